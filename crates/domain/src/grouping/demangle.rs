//! Rust symbol demangling for frames that arrive with raw symbol names (no symbolication on the
//! client): legacy `_ZN...17h<hash>E` and v0 `_R...` manglings. The output never contains the
//! compiler's hashes or crate disambiguators, which change with every build; closures print as
//! `{{closure}}` in both schemes, so that the same function demangles alike.
//!
//! Best effort and bounded: anything unexpected returns `None` and the raw name is used.

/// Demangles a Rust symbol, legacy or v0; `None` if it is not one (or is malformed).
pub fn demangle_rust(symbol: &str) -> Option<String> {
    let symbol = symbol.trim();
    // macOS adds one more leading underscore.
    let body = symbol.strip_prefix('_').unwrap_or(symbol);
    if let Some(rest) = body.strip_prefix("ZN").or_else(|| body.strip_prefix("_ZN")) {
        return demangle_legacy(rest);
    }
    if let Some(rest) = body.strip_prefix('R').or_else(|| body.strip_prefix("_R")) {
        return V0::new(rest).symbol();
    }
    None
}

/// `<len><ident>...E`, the last identifier possibly `h<16 hex>`.
fn demangle_legacy(mut rest: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    loop {
        if let Some(tail) = rest.strip_prefix('E') {
            // Anything after `E` is a clone suffix like `.llvm.1234`; ignore it.
            let _ = tail;
            break;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || parts.len() > 256 {
            return None;
        }
        let len: usize = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let ident = rest.get(..len)?;
        rest = &rest[len..];
        parts.push(unescape_legacy(ident));
    }
    if parts.last().is_some_and(|h| {
        h.len() == 17 && h.starts_with('h') && h[1..].bytes().all(|b| b.is_ascii_hexdigit())
    }) {
        parts.pop();
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("::"))
}

/// Legacy identifiers escape punctuation as `$LT$`, `$u7b$`, ... and `::` as `..`.
fn unescape_legacy(ident: &str) -> String {
    // Identifiers that start with `$` get a leading `_`.
    let ident = if ident.starts_with("_$") {
        &ident[1..]
    } else {
        ident
    };
    let mut out = String::with_capacity(ident.len());
    let mut rest = ident;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("..") {
            out.push_str("::");
            rest = after;
            continue;
        }
        if rest.starts_with('$')
            && let Some(end) = rest[1..].find('$')
        {
            let code = &rest[1..=end];
            let replacement = match code {
                "SP" => Some('@'),
                "BP" => Some('*'),
                "RF" => Some('&'),
                "LT" => Some('<'),
                "GT" => Some('>'),
                "LP" => Some('('),
                "RP" => Some(')'),
                "C" => Some(','),
                _ => code
                    .strip_prefix('u')
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .and_then(char::from_u32),
            };
            if let Some(c) = replacement {
                out.push(c);
                rest = &rest[end + 2..];
                continue;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// A v0 demangler over the bytes after `_R`. Depth and step budgets bound the work that
/// backreferences could otherwise multiply.
struct V0<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
    steps: u32,
}

const MAX_DEPTH: u32 = 64;
const MAX_STEPS: u32 = 4096;

impl<'a> V0<'a> {
    fn new(text: &'a str) -> V0<'a> {
        V0 {
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
            steps: 0,
        }
    }

    fn symbol(mut self) -> Option<String> {
        // Optional encoding version.
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut out = String::new();
        self.path(&mut out)?;
        Some(out)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.steps += 1;
        self.depth += 1;
        (self.depth <= MAX_DEPTH && self.steps <= MAX_STEPS).then_some(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// `{0-9a-zA-Z} "_"`; `_` alone is 0, otherwise the value plus one.
    fn base62(&mut self) -> Option<u64> {
        if self.eat(b'_') {
            return Some(0);
        }
        let mut value: u64 = 0;
        loop {
            let b = self.next()?;
            let digit = match b {
                b'_' => return value.checked_add(1),
                b'0'..=b'9' => b - b'0',
                b'a'..=b'z' => 10 + b - b'a',
                b'A'..=b'Z' => 36 + b - b'A',
                _ => return None,
            };
            value = value.checked_mul(62)?.checked_add(u64::from(digit))?;
        }
    }

    fn disambiguator(&mut self) -> Option<u64> {
        if self.eat(b's') {
            self.base62().map(|v| v + 1)
        } else {
            Some(0)
        }
    }

    fn decimal(&mut self) -> Option<usize> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.pos])
            .ok()?
            .parse()
            .ok()
    }

    fn ident(&mut self) -> Option<&'a str> {
        let punycode = self.eat(b'u');
        let len = self.decimal()?;
        self.eat(b'_');
        let end = self.pos.checked_add(len)?;
        let raw = self.bytes.get(self.pos..end)?;
        self.pos = end;
        let text = std::str::from_utf8(raw).ok()?;
        // Punycode identifiers are rare; keep their encoded form rather than decoding.
        let _ = punycode;
        Some(text)
    }

    /// Runs `f` at the backreference target, then returns here.
    fn backref<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let target = usize::try_from(self.base62()?).ok()?;
        if target >= self.pos {
            return None;
        }
        let saved = self.pos;
        self.pos = target;
        let result = f(self);
        self.pos = saved;
        result
    }

    fn path(&mut self, out: &mut String) -> Option<()> {
        self.enter()?;
        let tag = self.next()?;
        match tag {
            b'C' => {
                self.disambiguator()?;
                out.push_str(self.ident()?);
            }
            b'N' => {
                let namespace = self.next()?;
                self.path(out)?;
                self.disambiguator()?;
                let name = self.ident()?;
                out.push_str("::");
                match namespace {
                    b'C' => out.push_str("{{closure}}"),
                    b'S' => out.push_str("{{shim}}"),
                    b'A'..=b'Z' => {
                        out.push_str("{{");
                        out.push_str(name);
                        out.push_str("}}");
                    }
                    _ => out.push_str(name),
                }
            }
            b'M' => {
                self.disambiguator()?;
                let mut ignored = String::new();
                self.path(&mut ignored)?;
                out.push('<');
                self.ty(out)?;
                out.push('>');
            }
            b'X' => {
                self.disambiguator()?;
                let mut ignored = String::new();
                self.path(&mut ignored)?;
                out.push('<');
                self.ty(out)?;
                out.push_str(" as ");
                self.path(out)?;
                out.push('>');
            }
            b'Y' => {
                out.push('<');
                self.ty(out)?;
                out.push_str(" as ");
                self.path(out)?;
                out.push('>');
            }
            b'I' => {
                self.path(out)?;
                out.push('<');
                let mut first = true;
                while !self.eat(b'E') {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    self.generic_arg(out)?;
                }
                out.push('>');
            }
            b'B' => self.backref(|p| p.path(out))?,
            _ => return None,
        }
        self.leave();
        Some(())
    }

    fn generic_arg(&mut self, out: &mut String) -> Option<()> {
        if self.eat(b'L') {
            self.base62()?;
            out.push_str("'_");
            Some(())
        } else if self.eat(b'K') {
            self.konst(out)
        } else {
            self.ty(out)
        }
    }

    fn konst(&mut self, out: &mut String) -> Option<()> {
        self.enter()?;
        if self.eat(b'B') {
            self.backref(|p| p.konst(out))?;
        } else if self.eat(b'p') {
            out.push('_');
        } else {
            let mut ignored = String::new();
            self.ty(&mut ignored)?;
            self.eat(b'n');
            while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            if !self.eat(b'_') {
                return None;
            }
            out.push('_');
        }
        self.leave();
        Some(())
    }

    fn ty(&mut self, out: &mut String) -> Option<()> {
        self.enter()?;
        let tag = self.peek()?;
        let basic = match tag {
            b'a' => Some("i8"),
            b'b' => Some("bool"),
            b'c' => Some("char"),
            b'd' => Some("f64"),
            b'e' => Some("str"),
            b'f' => Some("f32"),
            b'h' => Some("u8"),
            b'i' => Some("isize"),
            b'j' => Some("usize"),
            b'l' => Some("i32"),
            b'm' => Some("u32"),
            b'n' => Some("i128"),
            b'o' => Some("u128"),
            b'p' => Some("_"),
            b's' => Some("i16"),
            b't' => Some("u16"),
            b'u' => Some("()"),
            b'v' => Some("..."),
            b'x' => Some("i64"),
            b'y' => Some("u64"),
            b'z' => Some("!"),
            _ => None,
        };
        if let Some(name) = basic {
            self.pos += 1;
            out.push_str(name);
            self.leave();
            return Some(());
        }
        self.pos += 1;
        match tag {
            b'A' => {
                out.push('[');
                self.ty(out)?;
                out.push_str("; ");
                self.konst(out)?;
                out.push(']');
            }
            b'S' => {
                out.push('[');
                self.ty(out)?;
                out.push(']');
            }
            b'T' => {
                out.push('(');
                let mut first = true;
                while !self.eat(b'E') {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    self.ty(out)?;
                }
                out.push(')');
            }
            b'R' | b'Q' => {
                if self.eat(b'L') {
                    self.base62()?;
                }
                out.push_str(if tag == b'R' { "&" } else { "&mut " });
                self.ty(out)?;
            }
            b'P' | b'O' => {
                out.push_str(if tag == b'P' { "*const " } else { "*mut " });
                self.ty(out)?;
            }
            b'F' => {
                if self.eat(b'G') {
                    self.base62()?;
                }
                self.eat(b'U');
                if self.eat(b'K') && !self.eat(b'C') {
                    self.ident()?;
                }
                out.push_str("fn(");
                let mut first = true;
                while !self.eat(b'E') {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    self.ty(out)?;
                }
                out.push_str(") -> ");
                self.ty(out)?;
            }
            b'D' => {
                if self.eat(b'G') {
                    self.base62()?;
                }
                out.push_str("dyn ");
                let mut first = true;
                while !self.eat(b'E') {
                    if !first {
                        out.push_str(" + ");
                    }
                    first = false;
                    self.path(out)?;
                    while self.eat(b'p') {
                        self.ident()?;
                        let mut ignored = String::new();
                        self.ty(&mut ignored)?;
                    }
                }
                // The trait object's lifetime.
                if !self.eat(b'L') {
                    return None;
                }
                self.base62()?;
            }
            b'B' => self.backref(|p| p.ty(out))?,
            _ => {
                // A path type: step back onto its tag.
                self.pos -= 1;
                self.path(out)?;
            }
        }
        self.leave();
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_symbols_lose_their_hash() {
        assert_eq!(
            demangle_rust("_ZN5myapp7handler17h0123456789abcdefE").as_deref(),
            Some("myapp::handler")
        );
        assert_eq!(
            demangle_rust("__ZN5myapp7handler17hfedcba9876543210E").as_deref(),
            Some("myapp::handler")
        );
        assert_eq!(
            demangle_rust("_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$17h1234567890abcdefE").as_deref(),
            Some("core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>")
        );
        assert_eq!(demangle_rust("_ZN5myapp"), None);
        assert_eq!(demangle_rust("_ZN999999999999myappE"), None);
        assert_eq!(demangle_rust("main"), None);
    }

    #[test]
    fn v0_symbols_lose_crate_disambiguators() {
        // myapp::handler in two builds with different crate hashes.
        let a = demangle_rust("_RNvCs1234_5myapp7handler");
        let b = demangle_rust("_RNvCsXYZabc_5myapp7handler");
        assert_eq!(a.as_deref(), Some("myapp::handler"));
        assert_eq!(a, b);
        // A closure inside myapp::main.
        assert_eq!(
            demangle_rust("_RNCNvCs1234_5myapp4mains_0").as_deref(),
            Some("myapp::main::{{closure}}")
        );
        // <myapp::Foo>::bar (inherent impl).
        assert_eq!(
            demangle_rust("_RNvMNtCs1_5myapp3fooNtB2_3Foo3bar").as_deref(),
            Some("<myapp::foo::Foo>::bar")
        );
        // Generic instantiation with a backref.
        assert_eq!(
            demangle_rust("_RINvCs1_5myapp5parseNtB2_6ConfigEB2_").as_deref(),
            Some("myapp::parse<myapp::Config>")
        );
        assert_eq!(demangle_rust("_RNvC"), None);
        assert_eq!(
            demangle_rust("_RB_"),
            None,
            "a backreference must point backwards"
        );
    }

    #[test]
    fn hostile_input_is_bounded() {
        let deep = format!("_R{}", "I".repeat(10_000));
        assert_eq!(demangle_rust(&deep), None);
        let nested = format!("_R{}", "Nv".repeat(500));
        assert_eq!(demangle_rust(&nested), None);
    }
}
