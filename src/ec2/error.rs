//! The error of one EC2 call, keeping EC2's error code so callers can tell
//! "already gone" or "duplicate" from a real failure.

/// An EC2 call that failed, with the action and EC2's error code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action}: {message}")]
pub struct Ec2Error {
    pub action: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl Ec2Error {
    /// True for the "does not exist" family of codes (already gone is fine on delete).
    pub fn is_not_found(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.ends_with(".NotFound") || c == "InvalidAMIID.Unavailable")
    }

    /// True when EC2 answered with exactly this code.
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// Deletes are idempotent: a resource that is already gone counts as deleted.
pub(crate) fn gone_is_ok<T>(r: Result<T, Ec2Error>) -> Result<(), Ec2Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// A lookup by id: "does not exist" is an answer (None), not a failure.
pub(crate) fn absent_is_none<T>(r: Result<Option<T>, Ec2Error>) -> Result<Option<T>, Ec2Error> {
    match r {
        Err(e) if e.is_not_found() => Ok(None),
        other => other,
    }
}
