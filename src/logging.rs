//! Logs to stderr as hclog JSON lines, which go-plugin parses: Terraform
//! then shows each line at its own level under `TF_LOG`.
//! `GOLDEN_LOG` (EnvFilter syntax) overrides what is emitted; `GOLDEN_LOG_FILE`
//! sends it to a file instead.

use std::fmt::Write as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the logger; keep the guard alive for as long as logs matter.
/// Lines go through a background writer that drops them rather than block:
/// a stalled stderr pipe (a Terraform that died, or stopped reading) must
/// never stall the bakes that are cleaning up.
pub fn init() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOLDEN_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,terraform_provider_golden=debug")
    });
    // GOLDEN_LOG_FILE: a copy of the log that outlives Terraform (which reads stderr).
    let file = std::env::var_os("GOLDEN_LOG_FILE").and_then(|p| open_log_file(p.as_ref()).ok());
    let (writer, guard) = match file {
        Some(f) => tracing_appender::non_blocking(f),
        None => tracing_appender::non_blocking(std::io::stderr()),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(HcLog)
        .with_writer(writer)
        .try_init()
        .ok()
        .map(|_| guard)
}

/// The log copy holds command output and resource ids: readable by its
/// owner only, as a new file.
fn open_log_file(p: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(p)
}

struct HcLog;

impl<S, N> FormatEvent<S, N> for HcLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = JsonFields(serde_json::Map::new());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                fields.0.insert("span".into(), span.name().into());
            }
        }
        event.record(&mut fields);
        let mut obj = fields.0;
        let message = obj.remove("message").unwrap_or_default();
        obj.insert("@message".into(), message);
        obj.insert("@level".into(), level(event.metadata().level()).into());
        obj.insert(
            "@module".into(),
            format!("golden.{}", event.metadata().target()).into(),
        );
        // go-plugin parses exactly hclog's layout (microseconds); anything
        // else and the line is shown raw at DEBUG whatever its level.
        let ts = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
            ))
            .unwrap_or_default();
        obj.insert("@timestamp".into(), ts.into());
        let mut line = String::new();
        let _ = write!(line, "{}", serde_json::Value::Object(obj));
        writeln!(w, "{line}")
    }
}

fn level(l: &Level) -> &'static str {
    match *l {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_log_file_is_created_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("golden.log");
        super::open_log_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
}
