//! Writes the MnoConnection CRD into the chart (`crdgen [--check] [--stdout] [PATH]`).
//!
//! `--check` compares instead of writing and exits 1 when the file is stale.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut check = false;
    let mut stdout = false;
    let mut path = crds::crdgen::workspace_root().join(crds::crdgen::CRD_PATH);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "--stdout" => stdout = true,
            "-h" | "--help" => {
                println!("usage: crdgen [--check] [--stdout] [PATH]");
                return ExitCode::SUCCESS;
            }
            other if other.starts_with('-') => {
                eprintln!("crdgen: unknown option {other}");
                return ExitCode::from(2);
            }
            other => path = other.into(),
        }
    }
    let yaml = match crds::crdgen::crd_yaml() {
        Ok(y) => y,
        Err(e) => {
            eprintln!("crdgen: cannot serialise the CRD: {e}");
            return ExitCode::FAILURE;
        }
    };
    if stdout {
        print!("{yaml}");
        return ExitCode::SUCCESS;
    }
    if check {
        return match std::fs::read_to_string(&path) {
            Ok(current) if current == yaml => ExitCode::SUCCESS,
            Ok(_) => {
                eprintln!(
                    "crdgen: {} is stale; run `cargo run -p crds --bin crdgen`",
                    path.display()
                );
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("crdgen: cannot read {}: {e}", path.display());
                ExitCode::FAILURE
            }
        };
    }
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("crdgen: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    match std::fs::write(&path, yaml) {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("crdgen: cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
