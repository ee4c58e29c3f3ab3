//! Closed sets of string values (`host_key_check`, `interface`, ...) as real
//! enums. One macro call names each value once: the enum, its wire spelling,
//! the list the schema's one-of check offers, and the serde decoding all come
//! from it, so no `match` elsewhere can quietly map an unknown value.

/// An enum whose values travel as fixed strings.
pub trait Choice: Sized + Copy + 'static {
    /// Every accepted spelling, in the order the docs list them.
    const VALUES: &'static [&'static str];
    fn as_str(self) -> &'static str;
}

/// Defines an enum of string choices: `choices!(pub enum Dir { Up = "up", Down = "down" })`.
#[macro_export]
macro_rules! choices {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// The value spelled `s`, if it is one.
            #[allow(dead_code)]
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl $crate::choices::Choice for $name {
            const VALUES: &'static [&'static str] = &[$($text),+];
            fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::choices::Choice::as_str(*self))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Choice;

    crate::choices!(
        enum Dir {
            Up = "up",
            Down = "down",
        }
    );

    #[test]
    fn values_spelling_and_decoding_agree() {
        assert_eq!(Dir::VALUES, &["up", "down"]);
        assert_eq!(Dir::Down.as_str(), "down");
        let d: Dir = serde_json::from_str("\"up\"").unwrap();
        assert_eq!(d, Dir::Up);
        assert!(serde_json::from_str::<Dir>("\"sideways\"").is_err());
    }
}
