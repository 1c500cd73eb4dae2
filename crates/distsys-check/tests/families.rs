//! Generated families (register, cas-register, kv-append) at small sizes, 1 to 64 clients, 0 to
//! 10% unknown outcomes, with and without a planted violation: the checker's verdict is the
//! one known by construction, and a violation's core is itself a violation.

use distsys_check::generate::{family, history_of, Family, FamilyConfig, Plant};
use distsys_check::{check, CheckOptions, Verdict};

#[test]
fn family_verdicts_are_known_by_construction() {
    let families = [Family::Register, Family::CasRegister, Family::KvAppend];
    let mut planted = 0;
    for seed in 0..240u64 {
        let family_kind = families[(seed % 3) as usize];
        let plant = match (seed / 3) % 4 {
            0 => Plant::None,
            1 => Plant::StaleRead,
            2 => Plant::LostWrite,
            _ => Plant::DuplicatedAppend,
        };
        let config = FamilyConfig {
            family: family_kind,
            operations: 50 + (seed as usize * 37) % 350,
            clients: 1 + (seed as usize * 13) % 64,
            keys: 1 + (seed as usize) % 8,
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
    assert!(planted > 100, "only {planted} violations planted");
}
