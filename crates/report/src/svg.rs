//! What the SVG outputs share: XML escaping and text measured for layout.

/// Text for XML (element content and attribute values alike); characters XML 1.0 does not
/// allow are dropped, line breaks become spaces.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Approximate width of a text in a sans-serif font, erring wide.
pub(crate) fn text_w(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            '\u{300}'..='\u{36f}' => 0.0,
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'í' | 'ì' | 'ỉ' | 'ĩ'
            | 'ị' | 'I' => 0.3,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '-' | '[' | ']' | '/' | '·' => 0.38,
            'm' | 'w' | 'M' | 'W' | '—' | '…' => 0.9,
            c if c.is_uppercase() => 0.7,
            c if c.is_ascii_digit() => 0.64,
            _ => 0.6,
        })
        .sum::<f64>()
        * size
}

/// Break a text into lines no wider than `max_w`, at spaces (inside a word only when the word
/// alone is too wide); past `max_lines` the last line ends with "…". Also says whether it cut.
pub(crate) fn wrap(s: &str, max_w: f64, size: f64, max_lines: usize) -> (Vec<String>, bool) {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let cand = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if text_w(&cand, size) <= max_w {
            cur = cand;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        for ch in word.chars() {
            cur.push(ch);
            if text_w(&cur, size) > max_w && cur.chars().count() > 1 {
                cur.pop();
                lines.push(std::mem::replace(&mut cur, ch.to_string()));
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    let cut = lines.len() > max_lines;
    if cut {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            while !last.is_empty() && text_w(&format!("{last}…"), size) > max_w {
                last.pop();
            }
            *last = format!("{}…", last.trim_end());
        }
    }
    (lines, cut)
}
