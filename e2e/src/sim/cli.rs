//! Command-line flags of the `smsc-sim` binary; they override the YAML file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use super::config::{Account, BindLimit, ConfigError, ReceiptFormat, ReceiptTextId, SimConfig};
use super::delay::Delay;
use super::faults::{
    BindFailure, ConnectionFault, RefuseMode, StatusRule, TransceiverRefusal, Trigger,
};
use super::message_id::{IdForm, IdStart};
use super::outcome::OutcomeMix;

/// SMPP 3.4 SMSC simulator.
#[derive(Debug, Clone, Parser)]
#[command(name = "smsc-sim", version, about)]
pub struct Args {
    /// YAML configuration file (flags given on the command line override it).
    #[arg(long, short = 'c', env = "SMSC_SIM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on; repeat for several independent instances.
    #[arg(long)]
    pub listen: Vec<SocketAddr>,
    /// The system_id of an accepted ESME account (with --password).
    #[arg(long)]
    pub system_id: Option<String>,
    /// The password of the --system-id account.
    #[arg(long, env = "SMSC_SIM_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// More accepted accounts as SYSTEM_ID:PASSWORD (repeatable).
    #[arg(long = "account", value_name = "SYSTEM_ID:PASSWORD")]
    pub accounts: Vec<String>,
    /// The simulator's own system_id in bind responses.
    #[arg(long)]
    pub smsc_id: Option<String>,
    /// Message id form: hex, decimal, padded:WIDTH or uuid.
    #[arg(long)]
    pub id_form: Option<IdForm>,
    /// First counter value of hex/decimal ids (default 1), or `random`.
    #[arg(long)]
    pub id_start: Option<IdStart>,
    /// Seconds between the simulator's own enquire_link (0: never).
    #[arg(long)]
    pub enquire_link_secs: Option<u64>,
    /// Accepted submits per second; above it ESME_RTHROTTLED.
    #[arg(long)]
    pub tps_limit: Option<u32>,
    /// Concurrent binds per system_id: MAX or MAX:STATUS (default status ESME_RBINDFAIL).
    #[arg(long)]
    pub bind_limit: Option<BindLimit>,
    /// Keep received submits for inspection (true/false).
    #[arg(long)]
    pub capture_submits: Option<bool>,
    /// Write every PDU as a JSON line to this file (`-`: standard output).
    #[arg(long)]
    pub pdu_log: Option<PathBuf>,
    /// Disable delivery receipts.
    #[arg(long)]
    pub no_receipts: bool,
    /// Receipt delay in milliseconds (fixed).
    #[arg(long)]
    pub receipt_delay_ms: Option<u64>,
    /// Receipt delay: MS, fixed:MS, uniform:MIN-MAX or exp:MEAN.
    #[arg(long, conflicts_with = "receipt_delay_ms")]
    pub receipt_delay: Option<Delay>,
    /// Outcome shares, e.g. DELIVRD=90,UNDELIV=5,EXPIRED=3,REJECTD=2.
    #[arg(long)]
    pub receipt_mix: Option<OutcomeMix>,
    /// Receipt format: text, tlv or both.
    #[arg(long)]
    pub receipt_format: Option<ReceiptFormat>,
    /// Id form in receipt text: same or decimal.
    #[arg(long)]
    pub receipt_text_id: Option<ReceiptTextId>,
    /// Delay before redelivering a receipt/MO answered with an error.
    #[arg(long)]
    pub redelivery_delay: Option<Delay>,
    /// Attempts per receipt/MO before giving up.
    #[arg(long)]
    pub max_delivery_attempts: Option<u32>,
    /// Submit fault STATUS:TRIGGER, e.g. ESME_RTHROTTLED:every=10 or ESME_RMSGQFUL:for=20
    /// (a queue full for 20 s, then recovered) (repeatable).
    #[arg(long = "submit-status", value_name = "STATUS:TRIGGER")]
    pub submit_status: Vec<StatusRule>,
    /// Leave submits unanswered: always, every=N, rate=P, next=N or for=SECONDS.
    #[arg(long)]
    pub no_response: Option<Trigger>,
    /// Delay before submit responses: MS, uniform:MIN-MAX or exp:MEAN.
    #[arg(long)]
    pub response_delay: Option<Delay>,
    /// Bind failure STATUS:TRIGGER, e.g. ESME_RBINDFAIL:next=2.
    #[arg(long, value_name = "STATUS:TRIGGER")]
    pub bind_failure: Option<StatusRule>,
    /// Refuse bind_transceiver: generic_nack or a status such as ESME_RINVCMDID.
    #[arg(long)]
    pub refuse_transceiver: Option<TransceiverRefusal>,
    /// Send receipts before the submit_sm_resp.
    #[arg(long)]
    pub receipt_before_response: bool,
    /// Send receipts twice: always, every=N, rate=P, next=N or for=SECONDS.
    #[arg(long)]
    pub duplicate_receipts: Option<Trigger>,
    /// Break connections: ACTION:N[:CONNECTIONS] with ACTION close, reset or silent.
    #[arg(long)]
    pub break_after: Option<ConnectionFault>,
    /// Refuse connections: refuse or accept_and_close.
    #[arg(long)]
    pub refuse_connections: Option<RefuseMode>,
    /// Serve the HTTP control API on this address (stats, faults, MO, breaks).
    #[arg(long)]
    pub control: Option<SocketAddr>,
    /// Print the statistics summary every this many seconds (0: only on exit).
    #[arg(long, default_value_t = 0)]
    pub stats_every_secs: u64,
}

/// Why the flags and file do not make a configuration.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The YAML file is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A flag is malformed.
    #[error("{0}")]
    Flag(String),
}

impl Args {
    /// The configurations of the instances to start: the file (or defaults), then the
    /// flags, once per listen address.
    pub fn into_configs(self) -> Result<Vec<SimConfig>, CliError> {
        let mut c = match &self.config {
            Some(path) => SimConfig::from_yaml_file(path)?,
            None => SimConfig {
                listen: SocketAddr::from(([0, 0, 0, 0], 2775)),
                capture_submits: false,
                ..SimConfig::default()
            },
        };
        match (self.system_id, self.password) {
            (Some(id), Some(pw)) => c.accounts.push(Account::new(id, pw)),
            (None, None) => {}
            _ => {
                return Err(CliError::Flag(
                    "--system-id and --password go together".into(),
                ))
            }
        }
        for a in &self.accounts {
            let (id, pw) = a
                .split_once(':')
                .ok_or_else(|| CliError::Flag("--account expects SYSTEM_ID:PASSWORD".to_owned()))?;
            c.accounts.push(Account::new(id, pw));
        }
        set(&mut c.smsc_system_id, self.smsc_id);
        set(&mut c.message_id, self.id_form);
        set(&mut c.id_start, self.id_start);
        set(&mut c.enquire_link_secs, self.enquire_link_secs);
        if self.tps_limit.is_some() {
            c.tps_limit = self.tps_limit;
        }
        if self.bind_limit.is_some() {
            c.bind_limit = self.bind_limit;
        }
        set(&mut c.capture_submits, self.capture_submits);
        if self.pdu_log.is_some() {
            c.pdu_log = self.pdu_log;
        }
        let r = &mut c.receipts;
        if self.no_receipts {
            r.enabled = false;
        }
        set(&mut r.delay, self.receipt_delay_ms.map(Delay::from_millis));
        set(&mut r.delay, self.receipt_delay);
        set(&mut r.mix, self.receipt_mix);
        set(&mut r.format, self.receipt_format);
        set(&mut r.text_id, self.receipt_text_id);
        set(&mut r.redelivery_delay, self.redelivery_delay);
        set(&mut r.max_attempts, self.max_delivery_attempts);
        let f = &mut c.faults;
        f.submit_status.extend(self.submit_status);
        if self.no_response.is_some() {
            f.no_response = self.no_response;
        }
        if self.response_delay.is_some() {
            f.response_delay = self.response_delay;
        }
        if let Some(rule) = self.bind_failure {
            f.bind_failure = Some(BindFailure {
                status: rule.status,
                when: rule.when,
            });
        }
        if self.refuse_transceiver.is_some() {
            f.refuse_transceiver = self.refuse_transceiver;
        }
        f.receipt_before_response |= self.receipt_before_response;
        if self.duplicate_receipts.is_some() {
            f.duplicate_receipts = self.duplicate_receipts;
        }
        if self.break_after.is_some() {
            f.connection = self.break_after;
        }
        if self.refuse_connections.is_some() {
            f.refuse_connections = self.refuse_connections;
        }
        if self.listen.is_empty() {
            return Ok(vec![c]);
        }
        Ok(self
            .listen
            .iter()
            .map(|&listen| SimConfig {
                listen,
                ..c.clone()
            })
            .collect())
    }
}

fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *target = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let args = Args::parse_from([
            "smsc-sim",
            "--listen=127.0.0.1:2775",
            "--listen=127.0.0.1:2776",
            "--system-id=ghasi",
            "--password=pw",
            "--receipt-delay-ms=200",
            "--submit-status=ESME_RTHROTTLED:every=10",
            "--submit-status=ESME_RMSGQFUL:for=20",
            "--refuse-transceiver=generic_nack",
            "--break-after=reset:100",
            "--id-form=padded:12",
        ]);
        let configs = args.into_configs().unwrap();
        assert_eq!(configs.len(), 2);
        let c = &configs[1];
        assert_eq!(c.listen.port(), 2776);
        assert_eq!(c.accounts, vec![Account::new("ghasi", "pw")]);
        assert_eq!(c.receipts.delay, Delay::from_millis(200));
        assert_eq!(c.faults.submit_status[0].when, Trigger::Every(10));
        assert_eq!(
            c.faults.submit_status[1].when,
            Trigger::For(std::time::Duration::from_secs(20))
        );
        assert_eq!(
            c.faults.refuse_transceiver,
            Some(TransceiverRefusal::GenericNack)
        );
        assert_eq!(c.message_id, IdForm::DecimalPadded { width: 12 });
    }

    #[test]
    fn password_needs_system_id() {
        let args = Args::parse_from(["smsc-sim", "--password=pw"]);
        assert!(args.into_configs().is_err());
    }
}
