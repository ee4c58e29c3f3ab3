//! serde_json keeps no positions, so a second, small pass over the text finds
//! the line of every member and element: the report names the line of an
//! option's key (of an array element's first character).

use std::collections::HashMap;

/// Line (1-based) of each value by its path: `builders/0/ami_name`.
pub fn lines(text: &str) -> HashMap<String, usize> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        out: HashMap::new(),
    };
    s.value(String::new());
    s.out
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    out: HashMap<String, usize>,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.i += 1;
        }
    }

    fn string(&mut self) -> String {
        let start = self.i + 1;
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'\\' => self.i += 1,
                b'"' => break,
                b'\n' => self.line += 1,
                _ => {}
            }
            self.i += 1;
        }
        let raw = String::from_utf8_lossy(&self.b[start..self.i.min(self.b.len())]).to_string();
        self.i += 1;
        // Keys with escapes are rare; their decoded form is what serde_json gives.
        serde_json::from_str(&format!("\"{raw}\"")).unwrap_or(raw)
    }

    fn value(&mut self, path: String) {
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b'"') => {
                            let line = self.line;
                            let key = self.string();
                            let p = join(&path, &key);
                            self.out.insert(p.clone(), line);
                            self.ws();
                            self.i += 1; // ':'
                            self.value(p);
                        }
                        Some(b',') => self.i += 1,
                        Some(b'}') | None => {
                            self.i += 1;
                            return;
                        }
                        Some(_) => self.i += 1,
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') | None => {
                            self.i += 1;
                            return;
                        }
                        Some(_) => {
                            let p = join(&path, &n.to_string());
                            self.out.insert(p.clone(), self.line);
                            self.value(p);
                            n += 1;
                        }
                    }
                }
            }
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.i += 1;
                }
            }
            None => {}
        }
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}
