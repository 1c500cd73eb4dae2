//! The `distsys` binary: parses arguments, runs the command, exits with its code.

/// mimalloc instead of the system allocator: the checkers and the simulator allocate many
/// small, short-lived vectors and maps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = distsys::run(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
