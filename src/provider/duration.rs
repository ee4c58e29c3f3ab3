//! Durations as Terraform users write them: "90s", "5m", "1h30m", "250ms".

use std::time::Duration;

/// No wait in a bake is meant to last longer; it also keeps deadline arithmetic safe.
const MAX: Duration = Duration::from_secs(30 * 86400);

pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration; write it like \"30s\", \"5m\" or \"1h30m\"");
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let part = Duration::try_from_secs_f64(n * secs).map_err(|_| bad())?;
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    if total > MAX {
        return Err(format!(
            "{s:?} is longer than {} days",
            MAX.as_secs() / 86400
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse("5 minutes").is_err());
        assert!(parse("m").is_err());
        assert!(parse("").is_err());
        assert!(parse("99999999999999999999h").is_err());
        assert!(parse("800h").is_err());
    }
}

/// A duration attribute: written like "5m", decoded once into a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> serde::Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map(Dur).map_err(serde::de::Error::custom)
    }
}
