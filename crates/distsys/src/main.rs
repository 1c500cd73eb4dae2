//! The `distsys` binary: parses arguments, runs the command, exits with its code.

fn main() {
    let code = distsys::run(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
