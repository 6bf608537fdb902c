//! The connector as a process of the e2e suite (`connector::cli::main`, the same as the
//! `smpp-connector` binary): tests that kill it with SIGKILL or SIGTERM find it through
//! `CARGO_BIN_EXE_e2e-connector`.

fn main() -> std::process::ExitCode {
    connector::cli::main()
}
