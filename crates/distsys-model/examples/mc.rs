use distsys_model::explore::{check, Limits, Verdict};
use distsys_model::raft::{Bounds, RaftModel};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: usize = a[1].parse().unwrap();
    let t: u64 = a[2].parse().unwrap();
    let l: u64 = a[3].parse().unwrap();
    let c: u32 = a[4].parse().unwrap();
    let m: usize = a[5].parse().unwrap();
    let p: u32 = a[6].parse().unwrap();
    let sym = match a[7].as_str() {
        "0" => distsys_model::raft::Symmetry::Off,
        "1" => distsys_model::raft::Symmetry::Sorted,
        _ => distsys_model::raft::Symmetry::Exhaustive,
    };
    let mutant = a
        .get(8)
        .map(|s| distsys_model::raft::mutant_by_name(s).unwrap());
    let b = Bounds {
        nodes: n,
        max_term: t,
        max_log: l,
        max_crashes: c,
        max_in_flight: m,
        max_proposals: p,
        max_duplicates: 0,
        pre_vote: false,
    };
    let model = RaftModel::new(b, mutant, sym).unwrap();
    let o = check(&model, &Limits::default(), &mut |p| eprintln!("{p:?}"));
    println!(
        "states {} depth {} time {:?} trans {}",
        o.distinct_states, o.depth, o.elapsed, o.transitions
    );
    if let Verdict::Violation { property, path } = &o.verdict {
        println!("{property} len {}", path.len());
        for a in path {
            println!("  {a:?}");
        }
    } else {
        println!("{:?}", matches!(o.verdict, Verdict::Ok));
    }
}
