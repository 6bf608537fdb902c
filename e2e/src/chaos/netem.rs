//! Whether `tc netem` can be used here: a throw-away network namespace is created and a netem
//! qdisc added on its loopback (nothing of the machine's own network is touched). On the
//! development machine the namespace works and netem does not (`Error: Specified qdisc kind is
//! unknown.`: the kernel has no `sch_netem`), so the `netem` row is skipped with that reason
//! and `smsc-latency` (a delaying proxy) covers latency.

use std::process::Command;

/// `Ok(())` when a namespace with a netem qdisc could be set up; otherwise the exact reason.
pub fn probe() -> Result<(), String> {
    let ns = format!("chaos-probe-{:08x}", rand::random::<u32>());
    run(&["ip", "netns", "add", &ns])?;
    let r = run(&[
        "ip", "netns", "exec", &ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay",
        "1ms",
    ]);
    let _ = run(&["ip", "netns", "del", &ns]);
    r
}

fn run(args: &[&str]) -> Result<(), String> {
    let (exe, rest) = args.split_first().ok_or("empty command")?;
    let out = Command::new(exe)
        .args(rest)
        .output()
        .map_err(|e| format!("`{}`: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
