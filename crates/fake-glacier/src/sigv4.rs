//! A `SigV4` verifier written from AWS's specification ("Create a
//! canonical request", "Create a string to sign", "Calculate the
//! signature"), independent of the SDK's signer, so that a signing bug in
//! the client cannot pass the tests. Checked against vectors of AWS's
//! published `SigV4` test suite in the tests below.
//!
//! What it covers is what the vault API needs: header-signed requests
//! (`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
//! Signature=…`), paths encoded twice (every service but S3), query
//! strings decoded and re-encoded, header values trimmed with inner spaces
//! collapsed. No presigned URLs, no path normalisation (the SDK sends
//! normalised paths), no `SigV4a`.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub(crate) access_key: String,
    /// `YYYYMMDD` of the credential scope.
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
    /// Lowercase names, in the order given.
    pub(crate) signed_headers: Vec<String>,
    /// Lowercase hex.
    pub(crate) signature: String,
}

impl Authorization {
    /// `DATE/REGION/SERVICE/aws4_request`.
    pub(crate) fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
/// SignedHeaders=a;b, Signature=HEX`; `None` when it is not of that form.
pub(crate) fn parse_authorization(header: &str) -> Option<Authorization> {
    let rest = header.trim().strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return None,
        }
    }
    let mut c = credential?.split('/');
    let (access_key, date, region, service, terminator) =
        (c.next()?, c.next()?, c.next()?, c.next()?, c.next()?);
    if c.next().is_some() || terminator != "aws4_request" || date.len() != 8 {
        return None;
    }
    let signed_headers: Vec<String> = signed?.split(';').map(str::to_ascii_lowercase).collect();
    let signature = signature?.to_ascii_lowercase();
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Authorization {
        access_key: access_key.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature,
    })
}

/// A request as it arrived, in the parts the signature covers.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    /// The path as sent on the wire (percent-encoded once by the client).
    pub(crate) path: &'a str,
    /// The query string as sent, without `?`.
    pub(crate) query: &'a str,
    /// Every header, names in any case.
    pub(crate) headers: &'a [(String, String)],
    /// `x-amz-content-sha256`, or the hex SHA-256 of the body.
    pub(crate) payload_hash: &'a str,
}

/// The unreserved characters of RFC 3986, which `SigV4` never encodes.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes every byte but the unreserved ones (and `/` when
/// `keep_slash`), with uppercase hex.
fn encode(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes; other bytes (a stray `%` too) stay as they are.
fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The canonical URI: the wire path encoded again (the "encode twice"
/// rule of every service but S3); `/` for an empty path.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    encode(path.as_bytes(), true)
}

/// The canonical query string: every `name=value` decoded, encoded the
/// `SigV4` way, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k), false), encode(&decode(v), false))
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        let _ = write!(out, "{k}={v}");
    }
    out
}

/// A header value trimmed, runs of spaces collapsed to one.
fn canonical_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request over `signed` headers; `None` when one of them
/// is not in the request.
pub(crate) fn canonical_request(req: &Request<'_>, signed: &[String]) -> Option<String> {
    let mut out = format!(
        "{}\n{}\n{}\n",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query)
    );
    for name in signed {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_value(v))
            .collect();
        if values.is_empty() {
            return None;
        }
        let _ = writeln!(out, "{name}:{}", values.join(","));
    }
    let _ = write!(out, "\n{}\n{}", signed.join(";"), req.payload_hash);
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The string to sign for `amz_date` (`YYYYMMDDTHHMMSSZ`) and `scope`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

/// HMAC-SHA256 (RFC 2104, block size 64).
fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The hex signature of `string_to_sign` with `secret`, for the scope of
/// `auth`.
pub(crate) fn signature(secret: &str, auth: &Authorization, string_to_sign: &str) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Whether `auth.signature` is the signature of `req` (dated `amz_date`)
/// with `secret`. Compared without an early exit.
pub(crate) fn verify(
    secret: &str,
    auth: &Authorization,
    amz_date: &str,
    req: &Request<'_>,
) -> bool {
    let Some(canonical) = canonical_request(req, &auth.signed_headers) else {
        return false;
    };
    let expected = signature(
        secret,
        auth,
        &string_to_sign(amz_date, &auth.scope(), &canonical),
    );
    expected.len() == auth.signature.len()
        && expected
            .bytes()
            .zip(auth.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    //! Vectors of AWS's `SigV4` test suite (the `aws-sig-v4-test-suite`
    //! published with the specification): credentials `AKIDEXAMPLE` /
    //! `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, region `us-east-1`,
    //! service `service`, time 2015-08-30T12:36:00Z. Each test gives the
    //! request, the canonical request and the signature of the suite.

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn auth(signed: &str, signature: &str) -> Authorization {
        parse_authorization(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={signature}"
        ))
        .expect("a well-formed header")
    }

    fn headers(h: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = h
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        v.push(("X-Amz-Date".into(), DATE.into()));
        v
    }

    /// Checks the canonical request and the signature of one vector, and
    /// that one flipped character of the signature is refused.
    fn check(req: &Request<'_>, signed: &str, canonical: &str, sig: &str) {
        let a = auth(signed, sig);
        assert_eq!(
            canonical_request(req, &a.signed_headers).as_deref(),
            Some(canonical)
        );
        assert!(verify(SECRET, &a, DATE, req), "the suite's signature");
        let mut bad = sig.to_owned().into_bytes();
        bad[10] = if bad[10] == b'0' { b'1' } else { b'0' };
        let tampered = auth(signed, std::str::from_utf8(&bad).expect("ascii"));
        assert!(
            !verify(SECRET, &tampered, DATE, req),
            "a tampered signature"
        );
        assert!(!verify("another secret", &a, DATE, req), "another secret");
    }

    #[test]
    fn get_vanilla() {
        let h = headers(&[("Host", "example.amazonaws.com")]);
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            payload_hash: EMPTY,
        };
        let canonical = format!(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:{DATE}\n\nhost;x-amz-date\n{EMPTY}"
        );
        assert_eq!(
            string_to_sign(DATE, "20150830/us-east-1/service/aws4_request", &canonical),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        check(
            &req,
            "host;x-amz-date",
            &canonical,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let h = headers(&[("Host", "example.amazonaws.com")]);
        let req = Request {
            method: "GET",
            path: "/",
            query: "Param2=value2&Param1=value1",
            headers: &h,
            payload_hash: EMPTY,
        };
        check(
            &req,
            "host;x-amz-date",
            &format!(
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:{DATE}\n\nhost;x-amz-date\n{EMPTY}"
            ),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
    }

    #[test]
    fn get_vanilla_utf8_query() {
        // `GET /?ሴ=bar`: on the wire the client sends it encoded once.
        let h = headers(&[("Host", "example.amazonaws.com")]);
        let req = Request {
            method: "GET",
            path: "/",
            query: "%E1%88%B4=bar",
            headers: &h,
            payload_hash: EMPTY,
        };
        check(
            &req,
            "host;x-amz-date",
            &format!(
                "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:{DATE}\n\nhost;x-amz-date\n{EMPTY}"
            ),
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        );
    }

    #[test]
    fn get_utf8_path() {
        // `GET /ሴ`: the suite's path before the client's encoding.
        let h = headers(&[("Host", "example.amazonaws.com")]);
        let req = Request {
            method: "GET",
            path: "/\u{1234}",
            query: "",
            headers: &h,
            payload_hash: EMPTY,
        };
        check(
            &req,
            "host;x-amz-date",
            &format!(
                "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:{DATE}\n\nhost;x-amz-date\n{EMPTY}"
            ),
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        );
    }

    #[test]
    fn get_header_value_trim() {
        let h = headers(&[
            ("Host", "example.amazonaws.com"),
            ("My-Header1", " value1"),
            ("My-Header2", " \"a   b   c\""),
        ]);
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            payload_hash: EMPTY,
        };
        check(
            &req,
            "host;my-header1;my-header2;x-amz-date",
            &format!(
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:{DATE}\n\nhost;my-header1;my-header2;x-amz-date\n{EMPTY}"
            ),
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        );
    }

    #[test]
    fn post_x_www_form_urlencoded_signed_body() {
        let body_hash = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
        assert_eq!(hex(&Sha256::digest(b"Param1=value1")), body_hash);
        let h = headers(&[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Host", "example.amazonaws.com"),
            ("Content-Length", "13"),
            ("X-Amz-Content-Sha256", body_hash),
        ]);
        let req = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            payload_hash: body_hash,
        };
        check(
            &req,
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            &format!(
                "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-content-sha256:{body_hash}\nx-amz-date:{DATE}\n\ncontent-length;content-type;host;x-amz-content-sha256;x-amz-date\n{body_hash}"
            ),
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        );
    }

    #[test]
    fn double_encoded_path() {
        // The suite's `double-encode-path` canonical URI: the wire path
        // `/test/@connections/JBDvjfGEIAMCERw%3D` encoded again.
        assert_eq!(
            canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D"),
            "/test/%40connections/JBDvjfGEIAMCERw%253D"
        );
    }

    #[test]
    fn malformed_headers_are_not_parsed() {
        for h in [
            "",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=xyz",
        ] {
            assert_eq!(parse_authorization(h), None, "{h}");
        }
    }
}
