//! What the resource keeps in Terraform's private state.

/// Marks a state made by `terraform import` until the first apply after it:
/// its inputs are unknown, so the plan adopts the configuration instead of
/// reading every configured attribute as a change.
pub const IMPORTED: &[u8] = br#"{"imported":true}"#;

pub fn is_imported(private: &[u8]) -> bool {
    private == IMPORTED
}
