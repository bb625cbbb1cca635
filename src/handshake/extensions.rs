//! The `Sec-WebSocket-Extensions` header field (RFC 6455 §9.1), without I/O.
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-token = registered-token
//! registered-token = token
//! extension-param = token [ "=" (token | quoted-string) ]
//!     ;When using the quoted-string syntax variant, the value
//!     ;after quoted-string unescaping MUST conform to the
//!     ;'token' ABNF.
//! ```
//!
//! The same grammar carries a client's offers and a server's answer, so one
//! type, [`ExtensionOffer`], holds an element of either. [`parse_extensions`]
//! reads every field of the header; [`encode_extension`] writes one element.
//!
//! Names are kept as they were sent: the RFC does not say whether extension
//! and parameter names compare with or without case, and keeping them lets
//! [`encode_extension`] give back what was parsed and errors quote what was
//! received. The negotiation compares them without ASCII case, as HTTP does
//! for the other tokens of the handshake (`websocket`, `Upgrade`), and answers
//! with the registered lowercase names.

use std::fmt;

/// One element of a `Sec-WebSocket-Extensions` list: an extension's name and
/// its parameters in order. In a request it is an offer; in a response, the
/// server's acceptance of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension's name, e.g. `permessage-deflate`, as sent.
    pub name: String,
    /// The parameters in order: a name as sent, and its value (unescaped, if
    /// it was a quoted-string) or `None` for a parameter without one.
    pub params: Vec<(String, Option<String>)>,
}

/// Parses every `Sec-WebSocket-Extensions` field of a head, in order, into
/// the list they make together.
///
/// RFC 6455 §9.1: "Note that like other HTTP header fields, this header field
/// MAY be split or combined across multiple lines", so `foo` in one field and
/// `bar; baz=2` in the next are the list `foo, bar; baz=2`. Optional
/// whitespace (spaces and tabs) may surround `,`, `;` and `=`, and empty list
/// elements (`a,,b`, a leading or trailing comma) are skipped as RFC 7230 §7
/// asks of a recipient. No field at all is the empty list; fields that
/// together hold no element break `1#extension`.
pub fn parse_extensions<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<ExtensionOffer>, ExtensionSyntaxError> {
    let mut offers = Vec::new();
    let mut last_field = None;
    for (index, value) in values.into_iter().enumerate() {
        let mut field = Field {
            bytes: value,
            pos: 0,
            number: index + 1,
        };
        field.parse_into(&mut offers)?;
        last_field = Some(field);
    }
    match last_field {
        Some(field) if offers.is_empty() => Err(field.error(SyntaxProblem::NoExtension)),
        _ => Ok(offers),
    }
}

/// Writes one list element as it goes in the header, e.g.
/// `permessage-deflate; client_max_window_bits=10`.
///
/// Names and values are written as they are: they must be tokens, as every
/// element [`parse_extensions`] gives is (a quoted value is a token once
/// unescaped, §9.1), and parsing the result gives the element back.
pub fn encode_extension(offer: &ExtensionOffer) -> String {
    let mut out = offer.name.clone();
    for (name, value) in &offer.params {
        out.push_str("; ");
        out.push_str(name);
        if let Some(value) = value {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// Where and how a `Sec-WebSocket-Extensions` header breaks the grammar of
/// RFC 6455 §9.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionSyntaxError {
    /// Which `Sec-WebSocket-Extensions` field, counting from 1.
    pub field: usize,
    /// The byte in that field's value where the problem was found, counting from 0.
    pub offset: usize,
    /// What is wrong there.
    pub problem: SyntaxProblem,
}

/// What is wrong in a `Sec-WebSocket-Extensions` header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxProblem {
    /// A token was required here but something else (`None`: the end of the
    /// field) was found.
    ExpectedToken {
        /// What the token would have been.
        what: TokenRole,
        /// The byte found instead, or `None` at the end of the field.
        found: Option<u8>,
    },
    /// After an extension name or a parameter, only `;`, `,` or the end of
    /// the field may follow.
    ExpectedSeparator {
        /// The byte found instead.
        found: u8,
    },
    /// A quoted-string is not closed before the end of the field.
    UnterminatedQuotedString,
    /// A control character (other than a tab) inside a quoted-string.
    ControlInQuotedString {
        /// The byte.
        found: u8,
    },
    /// §9.1: a quoted value, once unescaped, "MUST conform to the 'token' ABNF".
    QuotedValueNotToken {
        /// The unescaped value (bytes that are not UTF-8 replaced).
        value: String,
    },
    /// The fields hold no list element at all, where `1#extension` asks for one.
    NoExtension,
}

/// Which token of an element a [`SyntaxProblem::ExpectedToken`] was waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRole {
    /// An extension name: the start of a list element.
    ExtensionName,
    /// A parameter name, after `;`.
    ParameterName,
    /// A parameter value, after `=`.
    ParameterValue,
}

impl fmt::Display for ExtensionSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Sec-WebSocket-Extensions field {}, byte {}: ",
            self.field, self.offset
        )?;
        match &self.problem {
            SyntaxProblem::ExpectedToken { what, found } => {
                let what = match what {
                    TokenRole::ExtensionName => "an extension name",
                    TokenRole::ParameterName => "a parameter name",
                    TokenRole::ParameterValue => "a parameter value",
                };
                write!(f, "expected {what} (a token), found {}", Found(*found))?;
            }
            SyntaxProblem::ExpectedSeparator { found } => write!(
                f,
                "expected ';', ',' or the end of the field, found {}",
                Found(Some(*found))
            )?,
            SyntaxProblem::UnterminatedQuotedString => {
                f.write_str("a quoted-string is not closed")?;
            }
            SyntaxProblem::ControlInQuotedString { found } => write!(
                f,
                "control character {} inside a quoted-string",
                Found(Some(*found))
            )?,
            SyntaxProblem::QuotedValueNotToken { value } => {
                write!(
                    f,
                    "the quoted value {value:?} is not a token once unescaped"
                )?;
            }
            SyntaxProblem::NoExtension => f.write_str("the header lists no extension")?,
        }
        f.write_str(" (RFC 6455 §9.1)")
    }
}

impl std::error::Error for ExtensionSyntaxError {}

/// A byte as an error message shows it.
struct Found(Option<u8>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("the end of the field"),
            Some(b' ') => f.write_str("a space"),
            Some(b'\t') => f.write_str("a tab"),
            Some(b) if b.is_ascii_graphic() => write!(f, "{:?}", char::from(b)),
            Some(b) => write!(f, "byte 0x{b:02x}"),
        }
    }
}

/// RFC 7230 §3.2.6: `tchar`, a character of a token (RFC 2616's printable
/// ASCII without separators).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One field's value being read, left to right.
struct Field<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Which field this is, counting from 1.
    number: usize,
}

impl Field<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, problem: SyntaxProblem) -> ExtensionSyntaxError {
        self.error_at(self.pos, problem)
    }

    fn error_at(&self, offset: usize, problem: SyntaxProblem) -> ExtensionSyntaxError {
        ExtensionSyntaxError {
            field: self.number,
            offset,
            problem,
        }
    }

    /// RFC 7230 §3.2.3: `OWS = *( SP / HTAB )`.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// `#extension` (RFC 7230 §7): elements separated by commas, each comma
    /// with optional whitespace around it, empty elements skipped.
    fn parse_into(&mut self, offers: &mut Vec<ExtensionOffer>) -> Result<(), ExtensionSyntaxError> {
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => self.pos += 1,
                Some(_) => {
                    offers.push(self.extension()?);
                    // An element ends at a comma (consumed) or the end of the field.
                    if self.peek().is_none() {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// `extension = extension-token *( ";" extension-param )`, through the
    /// comma that ends it, if any.
    fn extension(&mut self) -> Result<ExtensionOffer, ExtensionSyntaxError> {
        let name = self.token(TokenRole::ExtensionName)?;
        let mut params = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => break,
                Some(b',') => {
                    self.pos += 1;
                    break;
                }
                Some(b';') => {
                    self.pos += 1;
                    params.push(self.param()?);
                }
                Some(found) => return Err(self.error(SyntaxProblem::ExpectedSeparator { found })),
            }
        }
        Ok(ExtensionOffer { name, params })
    }

    /// `extension-param = token [ "=" (token | quoted-string) ]`, after its `;`.
    fn param(&mut self) -> Result<(String, Option<String>), ExtensionSyntaxError> {
        self.skip_whitespace();
        let name = self.token(TokenRole::ParameterName)?;
        self.skip_whitespace();
        if self.peek() != Some(b'=') {
            return Ok((name, None));
        }
        self.pos += 1;
        self.skip_whitespace();
        let value = if self.peek() == Some(b'"') {
            self.quoted_token()?
        } else {
            self.token(TokenRole::ParameterValue)?
        };
        Ok((name, Some(value)))
    }

    /// `token = 1*tchar`.
    fn token(&mut self, what: TokenRole) -> Result<String, ExtensionSyntaxError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error(SyntaxProblem::ExpectedToken {
                what,
                found: self.peek(),
            }));
        }
        Ok(self.bytes[start..self.pos]
            .iter()
            .copied()
            .map(char::from)
            .collect())
    }

    /// A quoted-string (RFC 7230 §3.2.6), unescaped, which §9.1 requires to
    /// be a token:
    ///
    /// ```text
    /// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
    /// qdtext        = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
    /// quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text )
    /// ```
    fn quoted_token(&mut self) -> Result<String, ExtensionSyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error_at(open, SyntaxProblem::UnterminatedQuotedString));
            };
            match b {
                b'"' => break,
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        None => {
                            return Err(
                                self.error_at(open, SyntaxProblem::UnterminatedQuotedString)
                            );
                        }
                        Some(escaped) if is_control(escaped) => {
                            return Err(
                                self.error(SyntaxProblem::ControlInQuotedString { found: escaped })
                            );
                        }
                        Some(escaped) => value.push(escaped),
                    }
                }
                b if is_control(b) => {
                    return Err(self.error(SyntaxProblem::ControlInQuotedString { found: b }));
                }
                b => value.push(b),
            }
            self.pos += 1;
        }
        self.pos += 1;
        // RFC 6455 §9.1: "When using the quoted-string syntax variant, the
        // value after quoted-string unescaping MUST conform to the 'token' ABNF."
        if value.is_empty() || !value.iter().copied().all(is_tchar) {
            return Err(self.error_at(
                open,
                SyntaxProblem::QuotedValueNotToken {
                    value: String::from_utf8_lossy(&value).into_owned(),
                },
            ));
        }
        Ok(value.into_iter().map(char::from).collect())
    }
}

/// A byte that may not appear in a quoted-string, even escaped: a control
/// character other than a tab, or DEL.
fn is_control(b: u8) -> bool {
    b != b'\t' && b.is_ascii_control()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(fields: &[&str]) -> Result<Vec<ExtensionOffer>, ExtensionSyntaxError> {
        parse_extensions(fields.iter().map(|f| f.as_bytes()))
    }

    fn offer(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: name.to_owned(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_owned)))
                .collect(),
        }
    }

    fn error(field: usize, offset: usize, problem: SyntaxProblem) -> ExtensionSyntaxError {
        ExtensionSyntaxError {
            field,
            offset,
            problem,
        }
    }

    #[test]
    fn extension_header_9_1_examples() {
        // RFC 6455 §9.1: the two fields are "exactly equivalent" to the one.
        let split = parse(&["foo", "bar; baz=2"]).unwrap();
        assert_eq!(split, parse(&["foo, bar; baz=2"]).unwrap());
        assert_eq!(
            split,
            [offer("foo", &[]), offer("bar", &[("baz", Some("2"))])]
        );
        assert_eq!(
            parse(&["deflate-stream"]).unwrap(),
            [offer("deflate-stream", &[])]
        );
        assert_eq!(
            parse(&["mux; max-channels=4; flow-control, deflate-stream"]).unwrap(),
            [
                offer(
                    "mux",
                    &[("max-channels", Some("4")), ("flow-control", None)]
                ),
                offer("deflate-stream", &[]),
            ]
        );
        assert_eq!(
            parse(&["private-extension"]).unwrap(),
            [offer("private-extension", &[])]
        );
    }

    #[test]
    fn extension_header_rfc7692_7_1_3_examples() {
        // RFC 7692 §7.1.3: an offer with a fallback, and the two answers.
        assert_eq!(
            parse(&[
                "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
                 permessage-deflate; client_max_window_bits"
            ])
            .unwrap(),
            [
                offer(
                    "permessage-deflate",
                    &[
                        ("client_max_window_bits", None),
                        ("server_max_window_bits", Some("10")),
                    ]
                ),
                offer("permessage-deflate", &[("client_max_window_bits", None)]),
            ]
        );
        assert_eq!(
            parse(&["permessage-deflate; server_max_window_bits=10"]).unwrap(),
            [offer(
                "permessage-deflate",
                &[("server_max_window_bits", Some("10"))]
            )]
        );
    }

    #[test]
    fn extension_header_rfc7692_5_1_examples() {
        let foo = |params: &[(&str, Option<&str>)]| offer("permessage-foo", params);
        assert_eq!(parse(&["permessage-foo"]).unwrap(), [foo(&[])]);
        assert_eq!(
            parse(&["permessage-foo; use_y"]).unwrap(),
            [foo(&[("use_y", None)])]
        );
        // §5.1: the same value may be sent quoted.
        for value in ["x=10", "x=\"10\""] {
            assert_eq!(
                parse(&[&format!("permessage-foo; {value}")]).unwrap(),
                [foo(&[("x", Some("10"))])]
            );
        }
        assert_eq!(
            parse(&["permessage-foo, permessage-bar"]).unwrap(),
            [foo(&[]), offer("permessage-bar", &[])]
        );
        assert_eq!(
            parse(&["permessage-foo; use_y, permessage-foo"]).unwrap(),
            [foo(&[("use_y", None)]), foo(&[])]
        );
    }

    #[test]
    fn extension_header_quoted_values_are_unescaped() {
        assert_eq!(
            parse(&["permessage-deflate; server_max_window_bits=\"10\""]).unwrap(),
            [offer(
                "permessage-deflate",
                &[("server_max_window_bits", Some("10"))]
            )]
        );
        assert_eq!(
            parse(&[r#"x; a="\1\0", y; b = "c""#]).unwrap(),
            [
                offer("x", &[("a", Some("10"))]),
                offer("y", &[("b", Some("c"))])
            ]
        );
    }

    #[test]
    fn extension_header_quoted_value_must_be_a_token() {
        for (value, unescaped) in [
            (r#""""#, ""),
            (r#""a b""#, "a b"),
            (r#""a,b""#, "a,b"),
            (r#""a\"b""#, "a\"b"),
            (r#""a\\b""#, "a\\b"),
            ("\"caf\u{e9}\"", "caf\u{e9}"),
        ] {
            assert_eq!(
                parse(&[&format!("x; p={value}")]),
                Err(error(
                    1,
                    5,
                    SyntaxProblem::QuotedValueNotToken {
                        value: unescaped.to_owned()
                    }
                )),
                "{value}"
            );
        }
    }

    #[test]
    fn extension_header_whitespace_around_separators() {
        assert_eq!(
            parse(&[" \t a \t; b = 1 ,\tc ; d\t;e=\"2\" \t"]).unwrap(),
            [
                offer("a", &[("b", Some("1"))]),
                offer("c", &[("d", None), ("e", Some("2"))]),
            ]
        );
    }

    #[test]
    fn extension_header_empty_elements_are_skipped() {
        assert_eq!(
            parse(&[", a,, b ,", ",", " , c"]).unwrap(),
            [offer("a", &[]), offer("b", &[]), offer("c", &[])]
        );
    }

    #[test]
    fn extension_header_must_list_an_extension() {
        assert_eq!(parse(&[]), Ok(vec![]));
        for fields in [&[""][..], &[" "], &[","], &[" , ,"], &["", "\t,"]] {
            let last = fields[fields.len() - 1];
            assert_eq!(
                parse(fields),
                Err(error(fields.len(), last.len(), SyntaxProblem::NoExtension)),
                "{fields:?}"
            );
        }
    }

    #[test]
    fn extension_header_names_keep_their_case() {
        assert_eq!(
            parse(&["PerMessage-Deflate; Client_Max_Window_Bits=Ten"]).unwrap(),
            [offer(
                "PerMessage-Deflate",
                &[("Client_Max_Window_Bits", Some("Ten"))]
            )]
        );
    }

    #[test]
    fn extension_header_malformed_cases() {
        use SyntaxProblem::*;
        use TokenRole::*;
        let expected = |what, found| ExpectedToken { what, found };
        let cases: [(&[&str], ExtensionSyntaxError); 22] = [
            (&[";a"], error(1, 0, expected(ExtensionName, Some(b';')))),
            (&["=a"], error(1, 0, expected(ExtensionName, Some(b'=')))),
            (&["\"a\""], error(1, 0, expected(ExtensionName, Some(b'"')))),
            (&["a, /b"], error(1, 3, expected(ExtensionName, Some(b'/')))),
            (
                &["ok", "é"],
                error(2, 0, expected(ExtensionName, Some(0xc3))),
            ),
            (&["a;"], error(1, 2, expected(ParameterName, None))),
            (&["a; ;b"], error(1, 3, expected(ParameterName, Some(b';')))),
            (&["a;,b"], error(1, 2, expected(ParameterName, Some(b',')))),
            (&["a; =1"], error(1, 3, expected(ParameterName, Some(b'=')))),
            (&["a; b="], error(1, 5, expected(ParameterValue, None))),
            (
                &["a; b=,c"],
                error(1, 5, expected(ParameterValue, Some(b','))),
            ),
            (
                &["a; b=;c"],
                error(1, 5, expected(ParameterValue, Some(b';'))),
            ),
            (
                &["a; b==1"],
                error(1, 5, expected(ParameterValue, Some(b'='))),
            ),
            (&["a b"], error(1, 2, ExpectedSeparator { found: b'b' })),
            (&["a; b c"], error(1, 5, ExpectedSeparator { found: b'c' })),
            (
                &["a; b=1 2"],
                error(1, 7, ExpectedSeparator { found: b'2' }),
            ),
            (
                &["a; b=\"1\"2"],
                error(1, 8, ExpectedSeparator { found: b'2' }),
            ),
            (&["a\0"], error(1, 1, ExpectedSeparator { found: 0 })),
            (&["a; b=\"1"], error(1, 5, UnterminatedQuotedString)),
            (&["a; b=\"1\\"], error(1, 5, UnterminatedQuotedString)),
            (
                &["a; b=\"1\r\""],
                error(1, 7, ControlInQuotedString { found: b'\r' }),
            ),
            (
                &["a; b=\"\\\x7f\""],
                error(1, 7, ControlInQuotedString { found: 0x7f }),
            ),
        ];
        for (fields, want) in cases {
            assert_eq!(parse(fields), Err(want), "{fields:?}");
        }
    }

    #[test]
    fn extension_header_errors_say_what_and_where() {
        let message = |fields: &[&str]| parse(fields).unwrap_err().to_string();
        assert_eq!(
            message(&["a", "b; c="]),
            "Sec-WebSocket-Extensions field 2, byte 5: expected a parameter value (a token), \
             found the end of the field (RFC 6455 §9.1)"
        );
        assert_eq!(
            message(&["a b"]),
            "Sec-WebSocket-Extensions field 1, byte 2: expected ';', ',' or the end of the field, \
             found 'b' (RFC 6455 §9.1)"
        );
        assert_eq!(
            message(&["a; b=\"1\r\""]),
            "Sec-WebSocket-Extensions field 1, byte 7: control character byte 0x0d \
             inside a quoted-string (RFC 6455 §9.1)"
        );
        assert_eq!(
            message(&["a; b=\"x y\""]),
            "Sec-WebSocket-Extensions field 1, byte 5: the quoted value \"x y\" \
             is not a token once unescaped (RFC 6455 §9.1)"
        );
        assert_eq!(
            message(&["a; b=\"1"]),
            "Sec-WebSocket-Extensions field 1, byte 5: a quoted-string is not closed (RFC 6455 §9.1)"
        );
        assert_eq!(
            message(&[" "]),
            "Sec-WebSocket-Extensions field 1, byte 1: the header lists no extension (RFC 6455 §9.1)"
        );
        assert!(message(&["; "]).contains("an extension name (a token), found ';'"));
        assert!(message(&["a; ,"]).contains("a parameter name (a token), found ','"));
        assert!(message(&["a;\t\u{1}"]).contains("found byte 0x01"));
        assert!(message(&["a b c"]).contains("found 'b'"));
        assert!(message(&["a;\tb\t\t,,;"]).contains("found ';'"));
        assert!(message(&["a; b= \t"]).contains("found the end of the field"));
    }

    #[test]
    fn encode_extension_writes_the_rfc7692_form() {
        assert_eq!(
            encode_extension(&offer(
                "permessage-deflate",
                &[("client_max_window_bits", Some("10"))]
            )),
            "permessage-deflate; client_max_window_bits=10"
        );
        assert_eq!(
            encode_extension(&offer(
                "permessage-deflate",
                &[
                    ("server_no_context_takeover", None),
                    ("client_max_window_bits", None)
                ]
            )),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits"
        );
        assert_eq!(encode_extension(&offer("foo", &[])), "foo");
    }

    #[test]
    fn extension_header_every_prefix_never_panics() {
        let header = "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", \
                      x-webkit-deflate-frame ,, mux; max-channels=4; flow-control";
        for end in 0..=header.len() {
            let prefix = &header.as_bytes()[..end];
            let _ = parse_extensions([prefix]);
            let _ = parse_extensions([prefix, &header.as_bytes()[end..]]);
        }
    }

    fn token() -> impl Strategy<Value = String> {
        "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
    }

    fn any_offer() -> impl Strategy<Value = ExtensionOffer> {
        (
            token(),
            proptest::collection::vec((token(), proptest::option::of(token())), 0..5),
        )
            .prop_map(|(name, params)| ExtensionOffer { name, params })
    }

    proptest! {
        #[test]
        fn extension_header_encode_then_parse_gives_the_offers_back(
            offers in proptest::collection::vec(any_offer(), 1..5),
        ) {
            let encoded: Vec<String> = offers.iter().map(encode_extension).collect();
            // All in one field, and one field each.
            let one_field = encoded.join(", ");
            prop_assert_eq!(&parse_extensions([one_field.as_bytes()]).unwrap(), &offers);
            prop_assert_eq!(
                &parse_extensions(encoded.iter().map(|e| e.as_bytes())).unwrap(),
                &offers
            );
        }

        #[test]
        fn extension_header_arbitrary_bytes_never_panic(
            fields in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..4),
        ) {
            if let Ok(offers) = parse_extensions(fields.iter().map(Vec::as_slice)) {
                // Whatever parses re-encodes to what parses the same.
                let encoded: Vec<String> = offers.iter().map(encode_extension).collect();
                let again = parse_extensions(encoded.iter().map(|e| e.as_bytes())).unwrap();
                prop_assert_eq!(again, offers);
            }
        }

        #[test]
        fn extension_header_near_valid_bytes_never_panic(
            text in "[a-c;,= \t\"\\\\\x01]{0,30}",
        ) {
            if let Ok(offers) = parse_extensions([text.as_bytes()]) {
                let encoded: Vec<String> = offers.iter().map(encode_extension).collect();
                let again = parse_extensions(encoded.iter().map(|e| e.as_bytes())).unwrap();
                prop_assert_eq!(again, offers);
            }
        }
    }
}
