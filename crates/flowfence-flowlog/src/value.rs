//! Typed field values and the allocation-free token parsers behind them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::field::Kind;

/// `action`: whether security groups and network ACLs let the traffic through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// `ACCEPT`
    Accept,
    /// `REJECT`
    Reject,
}

/// `log-status`: whether the window's data was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogStatus {
    /// `OK`: data logged normally.
    Ok,
    /// `NODATA`: no traffic to or from the interface in the window.
    NoData,
    /// `SKIPDATA`: records were skipped in the window (one row can stand for many flows).
    SkipData,
}

/// `flow-direction`: the traffic's direction relative to the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowDirection {
    /// `ingress`
    Ingress,
    /// `egress`
    Egress,
}

impl Action {
    /// The AWS spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "ACCEPT",
            Action::Reject => "REJECT",
        }
    }
}

impl LogStatus {
    /// The AWS spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogStatus::Ok => "OK",
            LogStatus::NoData => "NODATA",
            LogStatus::SkipData => "SKIPDATA",
        }
    }
}

impl FlowDirection {
    /// The AWS spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowDirection::Ingress => "ingress",
            FlowDirection::Egress => "egress",
        }
    }
}

/// One field's value in a record. `-` in the input is [`Value::Null`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `-`: no value, or the field is not in the record's layout.
    Null,
    /// A text field, borrowed from the input.
    Text(&'a str),
    /// Any integer kind; the kind's range was checked when it was parsed.
    Int(u64),
    /// An address field.
    Addr(IpAddr),
    /// `action`.
    Action(Action),
    /// `log-status`.
    LogStatus(LogStatus),
    /// `flow-direction`.
    Direction(FlowDirection),
}

/// Why a token is not a valid value of its field's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ValueError {
    /// Not a decimal integer.
    NotANumber,
    /// An integer above the kind's maximum.
    OutOfRange,
    /// Not an IPv4 or IPv6 address.
    BadAddress,
    /// Not one of the enum's spellings.
    BadEnum,
}

impl<'a> Value<'a> {
    /// Parses one token (never empty) as a value of `kind`. `-` is null for every kind.
    #[inline]
    pub fn parse(kind: Kind, token: &'a str) -> Result<Value<'a>, ValueError> {
        if token == "-" {
            return Ok(Value::Null);
        }
        let bytes = token.as_bytes();
        Ok(match kind {
            Kind::Text => Value::Text(token),
            Kind::Int32 | Kind::Int64 | Kind::Port | Kind::Protocol => {
                let n = parse_u64(bytes).ok_or(ValueError::NotANumber)?;
                if n > kind.max_int() {
                    return Err(ValueError::OutOfRange);
                }
                Value::Int(n)
            }
            Kind::Addr => Value::Addr(parse_addr(token).ok_or(ValueError::BadAddress)?),
            Kind::Action => Value::Action(match bytes {
                b"ACCEPT" => Action::Accept,
                b"REJECT" => Action::Reject,
                _ => return Err(ValueError::BadEnum),
            }),
            Kind::LogStatus => Value::LogStatus(match bytes {
                b"OK" => LogStatus::Ok,
                b"NODATA" => LogStatus::NoData,
                b"SKIPDATA" => LogStatus::SkipData,
                _ => return Err(ValueError::BadEnum),
            }),
            Kind::Direction => Value::Direction(match bytes {
                b"ingress" => FlowDirection::Ingress,
                b"egress" => FlowDirection::Egress,
                _ => return Err(ValueError::BadEnum),
            }),
        })
    }

    /// The value as an integer, if it is one.
    #[inline]
    pub fn as_int(self) -> Option<u64> {
        match self {
            Value::Int(n) => Some(n),
            _ => None,
        }
    }

    /// The value as text, if it is text.
    #[inline]
    pub fn as_text(self) -> Option<&'a str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an address, if it is one.
    #[inline]
    pub fn as_addr(self) -> Option<IpAddr> {
        match self {
            Value::Addr(a) => Some(a),
            _ => None,
        }
    }

    /// True for `-`.
    #[inline]
    pub fn is_null(self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Parses a decimal integer of at most 19 digits (so it cannot overflow `u64`); anything
/// longer is reported as not a number unless it is zero-padded into range.
#[inline]
pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Parses the run of ASCII digits at the start of `bytes`: returns its value (wrapping
/// past 19 digits: callers reject such runs) and its length.
///
/// Eight bytes at a time: a word's leading digits are found and converted with a few
/// multiplications (the SWAR technique simdjson uses); a plain loop takes the tail.
#[inline(always)]
pub(crate) fn parse_digits(bytes: &[u8]) -> (u64, usize) {
    let mut n: u64 = 0;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let digits = leading_digits(word);
        if digits == 0 {
            return (n, i);
        }
        // Move the digits to the high bytes: the zero bytes shifted in read as leading 0s.
        let value = eight_digits(word << (8 * (8 - digits)));
        n = n.wrapping_mul(POW10[digits]).wrapping_add(value);
        i += digits;
        if digits < 8 {
            return (n, i);
        }
    }
    while let Some(&b) = bytes.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    (n, i)
}

/// Powers of ten, to append up to eight digits.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The value of the decimal digits `bytes[start..end]` (1 to 16 of them, else `None`), or
/// `None` if any is not a digit. For tokens whose end is already known: two word loads
/// and no loop. `bytes` may end anywhere; words past its end read as zero bytes.
#[inline(always)]
pub(crate) fn parse_known_digits(bytes: &[u8], start: usize, end: usize) -> Option<u64> {
    let word = |at: usize| -> u64 {
        match bytes.get(at..at + 8) {
            Some(word) => u64::from_le_bytes(word.try_into().expect("8 bytes")),
            None => {
                let mut word = [0u8; 8];
                let tail = bytes.get(at..).unwrap_or_default();
                word[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(word)
            }
        }
    };
    let len = end - start;
    match len {
        1..=8 => {
            let first = word(start);
            // Shifting the digits to the high bytes drops what follows the token; the
            // zero bytes shifted in read as leading zeros.
            (leading_digits(first) >= len).then(|| eight_digits(first << (8 * (8 - len))))
        }
        9..=16 => {
            let (first, second) = (word(start), word(start + 8));
            (leading_digits(first) == 8 && leading_digits(second) >= len - 8).then(|| {
                eight_digits(first) * POW10[len - 8] + eight_digits(second << (8 * (16 - len)))
            })
        }
        _ => None,
    }
}

/// How many of a little-endian word's bytes, from the first, are ASCII digits.
#[inline(always)]
fn leading_digits(word: u64) -> usize {
    // A digit's high nibble is 3 and its low nibble at most 9 (adding 6 doesn't carry).
    let high = (word & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030;
    let low =
        (word & 0x0F0F_0F0F_0F0F_0F0F).wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    let bad = high | low;
    // The top bit of every non-zero (non-digit) byte.
    let marks = ((bad & 0x7F7F_7F7F_7F7F_7F7F).wrapping_add(0x7F7F_7F7F_7F7F_7F7F) | bad)
        & 0x8080_8080_8080_8080;
    (marks.trailing_zeros() / 8) as usize
}

/// The value of eight digits (or zero bytes standing for leading zeros), first digit in
/// the lowest byte.
#[inline(always)]
fn eight_digits(word: u64) -> u64 {
    let v = (word & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32
}

/// Parses an address: a hand-rolled dotted-quad fast path for IPv4 (most tokens), the
/// standard library for IPv6.
#[inline]
pub(crate) fn parse_addr(token: &str) -> Option<IpAddr> {
    let bytes = token.as_bytes();
    if let Some(v4) = parse_ipv4(bytes) {
        return Some(IpAddr::V4(v4));
    }
    if bytes.contains(&b':') {
        return token.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    None
}

#[inline]
fn parse_ipv4(bytes: &[u8]) -> Option<Ipv4Addr> {
    match parse_ipv4_prefix(bytes) {
        Some((addr, used)) if used == bytes.len() => Some(addr),
        _ => None,
    }
}

/// Parses a dotted quad at the start of `bytes`; returns it and the bytes it used. The
/// caller checks what follows (a separator, or the end).
#[inline(always)]
pub(crate) fn parse_ipv4_prefix(bytes: &[u8]) -> Option<(Ipv4Addr, usize)> {
    match bytes.first_chunk::<16>() {
        Some(window) => parse_ipv4_window(window),
        None => parse_ipv4_slow(bytes),
    }
}

/// [`parse_ipv4_prefix`] over a 16-byte window, the common case (an address is followed
/// by more fields). A dotted quad is at most 15 bytes and each octet starts within 4
/// bytes of the last, so every index stays below 16: the masks only spare bounds checks.
#[inline(always)]
fn parse_ipv4_window(b: &[u8; 16]) -> Option<(Ipv4Addr, usize)> {
    let digit = |i: usize| b[i & 15].wrapping_sub(b'0');
    let mut octets = [0u8; 4];
    let mut i = 0usize;
    for (k, octet) in octets.iter_mut().enumerate() {
        let d0 = digit(i);
        if d0 > 9 {
            return None;
        }
        let d1 = digit(i + 1);
        let value = if d1 > 9 {
            i += 1;
            u32::from(d0)
        } else {
            // No leading zeros beyond a lone 0, as std parses.
            let d2 = digit(i + 2);
            if d0 == 0 {
                return None;
            }
            if d2 > 9 {
                i += 2;
                u32::from(d0) * 10 + u32::from(d1)
            } else {
                i += 3;
                // A fourth digit makes no octet (std agrees).
                if digit(i) <= 9 {
                    return None;
                }
                u32::from(d0) * 100 + u32::from(d1) * 10 + u32::from(d2)
            }
        };
        if value > 255 {
            return None;
        }
        *octet = value as u8;
        if k < 3 {
            if b[i & 15] != b'.' {
                return None;
            }
            i += 1;
        }
    }
    Some((Ipv4Addr::from(octets), i))
}

fn parse_ipv4_slow(bytes: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        let start = i;
        let mut v: u32 = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            v = v * 10 + u32::from(bytes[i] - b'0');
            i += 1;
            // No leading zeros beyond a lone 0, at most 3 digits: as std parses.
            if i - start > 3 {
                return None;
            }
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && bytes[start] == b'0') {
            return None;
        }
        *octet = v as u8;
        if k < 3 {
            if i >= bytes.len() || bytes[i] != b'.' {
                return None;
            }
            i += 1;
        }
    }
    Some((Ipv4Addr::from(octets), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_range_checked_per_kind() {
        assert_eq!(Value::parse(Kind::Port, "443"), Ok(Value::Int(443)));
        assert_eq!(Value::parse(Kind::Port, "65535"), Ok(Value::Int(65535)));
        assert_eq!(
            Value::parse(Kind::Port, "65536"),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            Value::parse(Kind::Protocol, "256"),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            Value::parse(Kind::Port, "http"),
            Err(ValueError::NotANumber)
        );
        assert_eq!(Value::parse(Kind::Int64, "-5"), Err(ValueError::NotANumber));
        assert_eq!(Value::parse(Kind::Int64, "+5"), Err(ValueError::NotANumber));
        assert_eq!(
            Value::parse(Kind::Int64, "99999999999999999999"),
            Err(ValueError::NotANumber)
        );
        assert_eq!(
            Value::parse(Kind::Int64, "9223372036854775808"),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(Value::parse(Kind::Int64, "-"), Ok(Value::Null));
    }

    #[test]
    fn swar_digits_agree_with_a_plain_loop() {
        fn plain(b: &[u8]) -> (u64, usize) {
            let len = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let n = b[..len].iter().fold(0u64, |n, &c| {
                n.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
            });
            (n, len)
        }
        let mut cases: Vec<Vec<u8>> = [
            "",
            "0",
            "7 ",
            "42",
            "65535 6",
            "1793696400 1793696460",
            "12345678",
            "123456789",
            "9999999999999999999",
            "18446744073709551615",
            "99999999999999999999999",
            "00000001",
            "12a4",
            "/:09",
            "1.2.3.4",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        // Every byte value next to digits, at every offset within a word.
        for b in 0..=255u8 {
            for at in 0..12 {
                let mut v = b"314159265358".to_vec();
                v[at] = b;
                cases.push(v);
            }
        }
        for case in cases {
            assert_eq!(
                parse_digits(&case),
                plain(&case),
                "{:?}",
                String::from_utf8_lossy(&case)
            );
        }
    }

    #[test]
    fn ipv4_fast_path_agrees_with_std() {
        for ok in ["0.0.0.0", "10.0.1.5", "255.255.255.255", "172.31.16.139"] {
            assert_eq!(parse_addr(ok), Some(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..3.4",
            "1.2.3.4 ",
            "",
            "a.b.c.d",
            "1.2.3.0004",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad}");
            assert!(bad.parse::<IpAddr>().is_err(), "std disagrees on {bad}");
        }
    }

    #[test]
    fn ipv4_window_and_slow_paths_agree() {
        let tokens = [
            "10.0.1.5",
            "255.255.255.255",
            "0.0.0.0",
            "1.2.3.4",
            "01.2.3.4",
            "1.02.3.4",
            "256.1.1.1",
            "1.2.3.256",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4a",
            "1..2.3",
            "1234.1.1.1",
            "1.2.3.1234",
            "a.b.c.d",
            "172.31.16.139",
            "192.168.100.200",
            "9.99.199.249",
        ];
        for t in tokens {
            for tail in ["", " 443 6", " ", "          trailing padding to 16"] {
                let s = format!("{t}{tail}");
                let slow = parse_ipv4_slow(s.as_bytes());
                assert_eq!(parse_ipv4_prefix(s.as_bytes()), slow, "{s:?}");
                if let Some(window) = s.as_bytes().first_chunk::<16>() {
                    assert_eq!(parse_ipv4_window(window), slow, "{s:?}");
                }
            }
        }
    }

    /// Digits with known bounds read as std reads them, from 1 to 16 digits, with or
    /// without bytes after the token and at the very end of the input; anything else
    /// (a non-digit, no digits, more than 16) is `None`.
    #[test]
    fn known_digits_agree_with_std() {
        let mut x: u64 = 5;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1 + (x % 18) as usize;
            let mut token: Vec<u8> = (0..len)
                .map(|i| b'0' + ((x >> (3 * i)) % 10) as u8)
                .collect();
            if x.is_multiple_of(7) {
                token[(x >> 40) as usize % len] = b"x-: "[(x >> 50) as usize % 4];
            }
            let text = std::str::from_utf8(&token).unwrap();
            let want = (len <= 16 && token.iter().all(u8::is_ascii_digit))
                .then(|| text.parse::<u64>().unwrap());
            for tail in [&b""[..], b" 443 6", b"7777777777777777"] {
                let mut bytes = b"12 ".to_vec();
                bytes.extend_from_slice(&token);
                bytes.extend_from_slice(tail);
                assert_eq!(parse_known_digits(&bytes, 3, 3 + len), want, "{text:?}");
            }
        }
    }

    #[test]
    fn ipv6_goes_through_std() {
        assert_eq!(
            parse_addr("2001:db8:1234:a100:8d6e:3477:df66:f105"),
            Some("2001:db8:1234:a100:8d6e:3477:df66:f105".parse().unwrap())
        );
        assert_eq!(
            parse_addr("2a02:cf40::"),
            Some("2a02:cf40::".parse().unwrap())
        );
        assert_eq!(parse_addr("2a02:zz::"), None);
    }

    #[test]
    fn enums_parse_only_their_spellings() {
        assert_eq!(
            Value::parse(Kind::Action, "ACCEPT"),
            Ok(Value::Action(Action::Accept))
        );
        assert_eq!(
            Value::parse(Kind::Action, "accept"),
            Err(ValueError::BadEnum)
        );
        assert_eq!(
            Value::parse(Kind::LogStatus, "SKIPDATA"),
            Ok(Value::LogStatus(LogStatus::SkipData))
        );
        assert_eq!(
            Value::parse(Kind::Direction, "egress"),
            Ok(Value::Direction(FlowDirection::Egress))
        );
    }
}
