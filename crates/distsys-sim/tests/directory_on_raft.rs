//! The partition directory as a state machine on the project's Raft: directory commands are
//! log entries, every replica applies them in order, and clients reach the owner through any
//! replica's view, through leader crashes and partitions.

use distsys_consensus::testkit::Cluster;
use distsys_consensus::NodeId;
use distsys_patterns::partitioning::directory::{
    serve, CachingClient, Command, Directory, DirectoryState, Placement,
};

/// The directory a replica has built from the entries it applied.
fn directory_of(c: &Cluster, id: NodeId) -> DirectoryState {
    let mut directory = DirectoryState::new(1);
    for entry in &c.applied[&id] {
        if let Some(command) = Command::decode(&entry.data) {
            let _ = directory.apply(&command);
        }
    }
    directory
}

fn propose(c: &mut Cluster, command: &Command) {
    let leader = c.leader();
    c.node(leader).propose(command.encode()).expect("leader");
    c.run_for(50);
}

fn entries(d: &DirectoryState) -> Vec<Placement> {
    d.entries().cloned().collect()
}

#[test]
fn the_directory_replicated_by_raft_survives_crashes_and_partitions() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    for at in ["g", "n", "t"] {
        propose(
            &mut c,
            &Command::Split {
                at: at.as_bytes().to_vec(),
            },
        );
    }
    propose(
        &mut c,
        &Command::Move {
            partition: 2,
            to: 7,
        },
    );

    // The leader dies; the new one keeps the directory and applies the next change.
    let old = c.leader();
    c.crash(old);
    c.run_for(1000);
    propose(
        &mut c,
        &Command::Move {
            partition: 4,
            to: 8,
        },
    );
    c.restart(old);
    c.run_for(600);

    // A change proposed on a leader cut off from the majority never applies anywhere.
    let leader = c.leader();
    c.isolate(leader);
    let _ = c.node(leader).propose(
        Command::Move {
            partition: 1,
            to: 9,
        }
        .encode(),
    );
    c.run_for(1000);
    c.heal();
    c.run_for(1000);

    let reference = directory_of(&c, c.ids()[0]);
    assert_eq!(
        reference.version(),
        5,
        "three splits and two moves, nothing else"
    );
    for id in c.ids() {
        assert_eq!(
            entries(&directory_of(&c, id)),
            entries(&reference),
            "replica {id}"
        );
    }
    assert_eq!(reference.lookup(b"house").node, 7);
    assert_eq!(reference.lookup(b"zebra").node, 8);
    assert_eq!(
        reference.lookup(b"apple").node,
        1,
        "the isolated move was lost, as it must be"
    );

    // A client that cached the directory before the moves reaches every owner, one redirect
    // per stale entry, checking against the replicas' applied state.
    let mut before = DirectoryState::new(1);
    for at in ["g", "n", "t"] {
        before
            .apply(&Command::Split {
                at: at.as_bytes().to_vec(),
            })
            .expect("split");
    }
    let mut client = CachingClient::default();
    for key in ["house", "zebra"] {
        client.request(key.as_bytes(), &before, |n| {
            serve(n, key.as_bytes(), &before)
        });
    }
    for key in ["apple", "house", "pear", "zebra"] {
        let served = client.request(key.as_bytes(), &reference, |n| {
            serve(n, key.as_bytes(), &reference)
        });
        assert_eq!(served, reference.lookup(key.as_bytes()).node, "{key}");
    }
    assert_eq!(client.redirects, 2);
}
