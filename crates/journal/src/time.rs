//! Epoch seconds to and from the `YYYYMMDDTHHMMSSZ` form of descriptions.

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
#[allow(clippy::cast_sign_loss)] // day and month are 1..=31 and 1..=12 here
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYYMMDDTHHMMSSZ` for years 0000 to 9999, `None` outside.
pub(crate) fn format_iso8601(t: i64) -> Option<String> {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// Reads mt-aws-glacier's lenient ISO 8601 subset: `YYYY[-]MM[-]DD T
/// HH[:]MM[:]SS[fraction] Z`, spaces allowed around the separators, `T` and
/// `Z` in either case, second 60 read as 59. `None` if malformed or not a
/// real date.
pub(crate) fn parse_iso8601(s: &str) -> Option<i64> {
    let mut p = Cursor(s.trim_start().as_bytes());
    let year = p.digits(4)?;
    p.skip(b"- \t\n\r\x0c\x0b");
    let month = p.digits(2)?;
    p.skip(b"- \t\n\r\x0c\x0b");
    let day = p.digits(2)?;
    p.skip(b" \t\n\r\x0c\x0b");
    p.one_of(b"Tt")?;
    p.skip(b" \t\n\r\x0c\x0b");
    let hour = p.digits(2)?;
    p.skip(b": \t\n\r\x0c\x0b");
    let minute = p.digits(2)?;
    p.skip(b": \t\n\r\x0c\x0b");
    let mut second = p.digits(2)?;
    let before = p.0.len();
    p.skip(b",.0123456789");
    if before - p.0.len() > 10 {
        return None;
    }
    p.skip(b" \t\n\r\x0c\x0b");
    p.one_of(b"Zz")?;
    p.skip(b" \t\n\r\x0c\x0b");
    if !p.0.is_empty() {
        return None;
    }
    if second == 60 {
        second = 59;
    }
    let (year, month, day) = (i64::from(year), month, day);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let d = self.0.get(..n)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[n..];
        Some(d.iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
    }

    fn skip(&mut self, set: &[u8]) {
        while let Some((b, rest)) = self.0.split_first() {
            if !set.contains(b) {
                break;
            }
            self.0 = rest;
        }
    }

    fn one_of(&mut self, set: &[u8]) -> Option<()> {
        let (b, rest) = self.0.split_first()?;
        if !set.contains(b) {
            return None;
        }
        self.0 = rest;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(format_iso8601(0).unwrap(), "19700101T000000Z");
        assert_eq!(format_iso8601(1_355_655_600).unwrap(), "20121216T110000Z");
        assert_eq!(format_iso8601(-1).unwrap(), "19691231T235959Z");
        assert_eq!(format_iso8601(951_782_400).unwrap(), "20000229T000000Z");
        assert_eq!(parse_iso8601("20121216T110000Z"), Some(1_355_655_600));
        assert_eq!(parse_iso8601("19691231T235959Z"), Some(-1));
        assert_eq!(parse_iso8601("00000101T000000Z"), Some(-62_167_219_200));
        assert_eq!(format_iso8601(-62_167_219_200).unwrap(), "00000101T000000Z");
        assert_eq!(format_iso8601(-62_167_219_201), None);
        assert_eq!(parse_iso8601("99991231T235959Z"), Some(253_402_300_799));
        assert_eq!(format_iso8601(253_402_300_800), None);
        assert_eq!(parse_iso8601("20130229T000000Z"), None);
        assert_eq!(parse_iso8601("20121216T240000Z"), None);
        assert_eq!(parse_iso8601("20121216T110000"), None);
        assert_eq!(
            parse_iso8601(" 2012-12-16 t 11:00:00,123 z "),
            Some(1_355_655_600)
        );
    }

    #[test]
    fn round_trip_every_day_boundary() {
        let mut t = -62_167_219_200_i64;
        while t < 253_402_300_800 {
            let s = format_iso8601(t).unwrap();
            assert_eq!(parse_iso8601(&s), Some(t), "{s}");
            t += 86_400 * 97 + 3_607;
        }
    }
}
