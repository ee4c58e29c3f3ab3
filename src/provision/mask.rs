//! Hiding the shell steps' environment values (secrets until proven
//! otherwise) in the output that reaches logs and diagnostics.
//!
//! Output is seen one line at a time, so a value is masked line by line:
//! trailing line breaks are dropped (`file()` keeps them), and each line of
//! a multi-line value (a PEM key) is masked on its own wherever it appears.
//! One masker holds the values of every step of a bake, since any step may
//! print what an earlier one was given.

/// Values, or lines of values, shorter than this (in characters) are not
/// masked: hiding every `a` or `no` would hide the output, not the secret.
const MIN_MASKED_CHARS: usize = 3;

/// What masked text is replaced with.
const MARK: &str = "(sensitive value)";

#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// The lines to hide, longest first, no duplicates.
    needles: Vec<String>,
}

impl Masker {
    /// A masker for these values.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut needles: Vec<String> = values
            .into_iter()
            .flat_map(|v| v.split('\n'))
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| l.chars().count() >= MIN_MASKED_CHARS)
            .map(str::to_string)
            .collect();
        // Longest first, so a line containing another is matched whole.
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Masker { needles }
    }

    /// `text` with every occurrence of every value line replaced by the mark.
    /// Occurrences that overlap are hidden as one span; the mark itself is
    /// never searched, so a value that happens to occur in it changes nothing.
    pub fn mask(&self, text: &str) -> String {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for n in &self.needles {
            spans.extend(
                text.match_indices(n.as_str())
                    .map(|(i, m)| (i, i + m.len())),
            );
        }
        if spans.is_empty() {
            return text.to_string();
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some((start, mut end)) = spans.next() {
            while let Some(&(s, e)) = spans.peek() {
                if s > end {
                    break;
                }
                end = end.max(e);
                spans.next();
            }
            out.push_str(&text[at..start]);
            out.push_str(MARK);
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Masks each line of `lines` and joins them with newlines.
    pub fn mask_lines(&self, lines: &[String]) -> String {
        lines
            .iter()
            .map(|l| self.mask(l))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::Masker;

    #[test]
    fn a_single_value_is_masked() {
        let m = Masker::new(["hunter22"]);
        assert_eq!(m.mask("token=hunter22!"), "token=(sensitive value)!");
        assert_eq!(m.mask("nothing here"), "nothing here");
    }

    #[test]
    fn trailing_newlines_are_dropped() {
        // file() keeps the file's last newline; output lines never hold it.
        let m = Masker::new(["s3cret-token\n", "other-one\r\n"]);
        assert_eq!(m.mask("a s3cret-token b"), "a (sensitive value) b");
        assert_eq!(m.mask("other-one"), "(sensitive value)");
    }

    #[test]
    fn each_line_of_a_multi_line_value_is_masked_on_its_own() {
        let pem = "-----BEGIN KEY-----\nMIIEabcdef\nqrstuvwxyz\n-----END KEY-----\n";
        let m = Masker::new([pem]);
        for line in pem.lines() {
            assert_eq!(m.mask(line), "(sensitive value)", "{line}");
        }
        // Lines joined on one line (tr '\n' ' ') are hidden too.
        assert_eq!(
            m.mask("joined: MIIEabcdef qrstuvwxyz"),
            "joined: (sensitive value) (sensitive value)"
        );
    }

    #[test]
    fn short_lines_are_not_masked() {
        let m = Masker::new(["ab", "long-line\nx\n\nyz"]);
        assert_eq!(m.mask("ab x yz"), "ab x yz");
        assert_eq!(m.mask("a long-line"), "a (sensitive value)");
        assert_eq!(Masker::new(["abc"]).mask("xabcx"), "x(sensitive value)x");
    }

    #[test]
    fn overlapping_values_are_hidden_as_one_span() {
        let m = Masker::new(["abcdef", "defghi"]);
        assert_eq!(m.mask("xabcdefghiy"), "x(sensitive value)y");
        // A value inside another is hidden with it, and the mark is not rescanned.
        let m = Masker::new(["secret-value", "secret", "sensitive"]);
        assert_eq!(m.mask("secret-value"), "(sensitive value)");
        assert_eq!(
            m.mask("a secret and sensitive"),
            "a (sensitive value) and (sensitive value)"
        );
    }

    #[test]
    fn values_of_every_step_are_masked() {
        use crate::provision::{FileStep, ProvisionStep, ShellStep};
        let shell = |k: &str, v: &str| {
            ProvisionStep::Shell(ShellStep {
                environment: [(k.to_string(), v.to_string())].into(),
                ..ShellStep::for_test()
            })
        };
        let steps = [
            shell("A", "first-secret\n"),
            ProvisionStep::File(FileStep {
                sources: vec![],
                content: Some("not-a-secret".into()),
                destination: "/tmp/x".into(),
                download: false,
            }),
            shell("B", "second-secret"),
        ];
        let m = crate::provision::masker_for(&steps);
        assert_eq!(
            m.mask("first-secret second-secret not-a-secret"),
            "(sensitive value) (sensitive value) not-a-secret"
        );
    }

    #[test]
    fn multi_byte_text_is_cut_on_char_boundaries() {
        let m = Masker::new(["pässwörd"]);
        assert_eq!(m.mask("ü pässwörd ü"), "ü (sensitive value) ü");
    }

    #[test]
    fn tail_lines_are_masked_one_by_one() {
        let m = Masker::new(["line-one\nline-two"]);
        let tail = vec!["line-one".to_string(), "x line-two".to_string()];
        assert_eq!(
            m.mask_lines(&tail),
            "(sensitive value)\nx (sensitive value)"
        );
    }
}
