//! Generated families (register, cas-register, kv-append, kv-put-append) at small sizes, 1 to 64 clients, 0 to
//! 10% unknown outcomes, with and without a planted violation: the checker's verdict is the
//! one known by construction, and a violation's core is itself a violation.

use distsys_check::generate::{family, history_of, Family, FamilyConfig, Plant};
use distsys_check::{check, CheckOptions, Verdict};

const FAMILIES: [Family; 4] = [
    Family::Register,
    Family::CasRegister,
    Family::KvAppend,
    Family::KvPutAppend,
];

#[test]
fn family_verdicts_are_known_by_construction() {
    let mut planted = 0;
    for seed in 0..320u64 {
        let family_kind = FAMILIES[(seed % 4) as usize];
        let plant = match (seed / 4) % 4 {
            0 => Plant::None,
            1 => Plant::StaleRead,
            2 => Plant::LostWrite,
            _ => Plant::DuplicatedAppend,
        };
        let keys = 1 + (seed as usize) % 8;
        // 1..64 clients on every family: puts and appends of one key under 8 or more clients
        // were beyond the search (exit 3) before the put-and-append chains.
        let clients = 1 + (seed as usize * 13) % 64;
        let config = FamilyConfig {
            family: family_kind,
            operations: 50 + (seed as usize * 37) % 350,
            clients,
            keys,
            info_share: (seed % 11) as f64 / 100.0,
            plant,
            seed,
        };
        let (events, linearizable) = family(&config);
        planted += usize::from(!linearizable);
        let history = history_of(&events);
        let result = check(&history, &CheckOptions::new(family_kind.model())).expect("accepted");
        match (&result.verdict, linearizable) {
            (Verdict::Linearizable, true) => {}
            (Verdict::Violation(v), false) => {
                let core = distsys_check::History {
                    operations: v.core.clone(),
                    failed: 0,
                    unknown_reads: 0,
                };
                let again = check(&core, &CheckOptions::new(family_kind.model())).expect("core");
                assert!(
                    matches!(again.verdict, Verdict::Violation(_)),
                    "{config:?}: the core is linearizable"
                );
            }
            (verdict, _) => {
                panic!("{config:?}: expected linearizable={linearizable}, got {verdict:?}")
            }
        }
    }
    assert!(planted > 130, "only {planted} violations planted");
}

/// The construction itself, on histories small enough for the brute-force oracle: every
/// family's verdict by construction is the oracle's (puts and appends of one key included).
#[test]
fn verdicts_by_construction_agree_with_the_oracle() {
    let mut planted = 0;
    for seed in 0..2000u64 {
        let family_kind = FAMILIES[(seed % 4) as usize];
        let config = FamilyConfig {
            family: family_kind,
            operations: 4 + (seed as usize / 4) % 7,
            clients: 1 + (seed as usize / 7) % 4,
            keys: 1,
            info_share: (seed % 3) as f64 / 10.0,
            plant: if seed % 2 == 0 {
                Plant::None
            } else {
                Plant::StaleRead
            },
            seed,
        };
        let (events, linearizable) = family(&config);
        let history = history_of(&events);
        if history.operations.len() > 10 {
            continue;
        }
        planted += usize::from(!linearizable);
        let oracle = distsys_check::oracle::linearizable(family_kind.model(), &history.operations)
            .expect("the oracle takes it");
        assert_eq!(
            oracle, linearizable,
            "{config:?}: {:#?}",
            history.operations
        );
    }
    assert!(planted > 100, "only {planted} violations planted");
}
