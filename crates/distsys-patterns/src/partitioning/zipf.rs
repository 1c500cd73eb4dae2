//! Zipf-distributed ranks (rank `r` of `n` drawn with weight `1 / r^exponent`), for skewed
//! workloads: the range-partitioning experiment and the simulator's transaction benchmark.

/// A Zipf distribution over ranks `0..n` (rank 0 the hottest), sampled by inverting its
/// cumulative weights with a uniform number from the caller's RNG.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// `n` ranks (at least one) with the exponent (0.99 is YCSB's default).
    pub fn new(n: usize, exponent: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n.max(1));
        let mut total = 0.0;
        for rank in 1..=n.max(1) {
            total += 1.0 / (rank as f64).powf(exponent);
            cdf.push(total);
        }
        Zipf { cdf }
    }

    /// The rank for a uniform number in `[0, 1)`.
    pub fn rank(&self, unit_random: f64) -> usize {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let u = unit_random * total;
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::Zipf;

    #[test]
    fn the_first_rank_is_the_hottest_and_every_rank_is_in_range() {
        let zipf = Zipf::new(100, 0.99);
        assert_eq!(zipf.rank(0.0), 0);
        assert_eq!(zipf.rank(0.999_999), 99);
        // Rank 0 carries 1/H(100, 0.99) of the weight, about 19%.
        assert_eq!(zipf.rank(0.18), 0);
        assert!(zipf.rank(0.25) > 0);
    }
}
