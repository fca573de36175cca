//! UTC dates to and from seconds since the epoch, without a calendar crate.

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn num(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[allow(clippy::many_single_char_names)] // y, m, d, h: the calendar's own names
/// `@SECONDS`, `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z]`
/// (UTC) to seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Some(secs) = s.strip_prefix('@') {
        return secs.parse().ok();
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut it = date.split('-');
    let y = num(it.next()?, 4)?;
    let m = it.next().map_or(Some(1), |m| num(m, 2))?;
    let d = it.next().map_or(Some(1), |d| num(d, 2))?;
    if it.next().is_some() || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let mut it = t.split(':');
        let h = num(it.next()?, 2)?;
        let mi = num(it.next()?, 2)?;
        let sec = it.next().map_or(Some(0), |x| num(x, 2))?;
        if it.next().is_some() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + sec;
    }
    Some(secs)
}

/// Seconds since the epoch as UTC text in the form the query language reads
/// back (`mtime:<TEXT`): `YYYY-MM-DD` at midnight, `YYYY-MM-DDTHH:MM:SSZ`
/// otherwise, `@SECONDS` outside the years 0 to 9999.
///
/// ```
/// assert_eq!(catalog::format_time(1_560_000_000), "2019-06-08T13:20:00Z");
/// assert_eq!(catalog::format_time(0), "1970-01-01");
/// ```
#[must_use]
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return format!("@{secs}");
    }
    if rem == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2020-01-01"), Some(1_577_836_800));
        assert_eq!(parse_time("2020"), Some(1_577_836_800));
        assert_eq!(parse_time("2000-02-29T12:30:15Z"), Some(951_827_415));
        assert_eq!(parse_time("2001-02-29"), None);
        assert_eq!(parse_time("@-5"), Some(-5));
        for s in [
            0,
            951_827_415,
            -86_400,
            253_402_300_800,
            -62_167_219_201,
            4_102_444_800,
        ] {
            assert_eq!(parse_time(&format_time(s)), Some(s), "{}", format_time(s));
        }
    }
}
