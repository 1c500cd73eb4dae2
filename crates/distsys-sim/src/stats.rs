//! Summary statistics the reports share.

/// The value at `fraction` (0..=1) of a sorted sample (nearest rank), or `None` when empty.
pub fn percentile<T: Copy>(sorted: &[T], fraction: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    let rank = (last as f64 * fraction.clamp(0.0, 1.0)).round() as usize;
    Some(sorted[rank])
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank() {
        let v = [10, 20, 30, 40, 50];
        assert_eq!(super::percentile(&v, 0.5), Some(30));
        assert_eq!(super::percentile(&v, 0.99), Some(50));
        assert_eq!(super::percentile(&v, 0.0), Some(10));
        assert_eq!(super::percentile::<u64>(&[], 0.5), None);
    }
}
