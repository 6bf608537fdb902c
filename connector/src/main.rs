//! `smpp-connector --config FILE`: one operator's SMPP connector (see `connector::cli`).

fn main() -> std::process::ExitCode {
    connector::cli::main()
}
