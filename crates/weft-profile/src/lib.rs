/*!
Parsers for Go goroutine dumps and goroutine profiles, into [`weft_model::Snapshot`].

One entry point, [`parse`], takes the raw bytes of any form and detects the
form by its content (never by a file name or URL):

| form | how it is recognised | records |
|---|---|---|
| `debug=2` dump, panic / fatal tracebacks ([`SourceForm::Debug2`]) | a `goroutine N [status]:` header anywhere | one per goroutine, `count == 1`, `ids == [N]` |
| `debug=1` text ([`SourceForm::Debug1`]) | starts with `goroutine profile: total N` | one per stack with its count, state inferred |
| `debug=0` pprof protobuf, gzipped or not ([`SourceForm::Pprof`]) | gzip magic, or a protobuf whose sample type is `goroutine` | one per stack with its count, state inferred |
| goroutine-leak profile ([`SourceForm::LeakProfile`]) | `goroutineleak profile: total N`, or a protobuf whose sample type is `goroutineleak` | as `debug=1`/`debug=0`, every record `leaked` |

Gzipped text (a saved `debug=2` or `debug=1` file) is decompressed and
parsed as the text it holds.

The leak profile's `debug=2` form is an ordinary dump in which leaked
goroutines carry `(leaked)` in their status; it parses as `Debug2` with
`leaked` set on those records.

Forms without a state (`debug=1`, `debug=0`) get one inferred from the top
frames ([`infer_status`], table in the `infer` module docs) and
`status_inferred = true`. `Snapshot::source` and `taken_at_ms` are left
empty for the caller to fill.

`debug=1` hides the runtime frames at the top of each stack, so on its
own it can only say `waiting` for channel and select waits; give
[`parse_with_symbols`] a [`Symbols`] learned from one `debug=0` fetch of the
same process and it reports the real states.

The `debug=2` parser takes what Go 1.17–1.27 print: `gp= m= mp=`
headers, statuses with `(leaked)`, `(scan)`, `(durable)`, `N minutes`,
`locked to thread`, `synctest bubble N`, labels (Go 1.26 ` labels:{…}`
inside the brackets, Go 1.27 ` {…}` after them), `created by X [in
goroutine N]`, elided frames, `[originating from goroutine N]` ancestors
(skipped), `fp= sp= pc=`, panic / signal preambles, register dumps, CRLF,
`log`/glog line prefixes and a truncated last block. Dumps above a few MB
can be split at goroutine boundaries and parsed on several threads
([`Limits::threads`]; on by default, see there).

Bad input gives a [`ParseError`] with a byte offset (and a line for text);
the parsers never panic, and gzip output is capped ([`Limits`]).

```
let dump = b"goroutine 7 [chan receive, 3 minutes]:\n\
main.worker(0xc000012345)\n\
\t/src/app/main.go:20 +0x1d\n\
created by main.main in goroutine 1\n\
\t/src/app/main.go:12 +0x25\n";
let snap = weft_profile::parse(dump).unwrap();
let rec = &snap.records[0];
assert_eq!(rec.ids, vec![7]);
assert_eq!(rec.status, "chan receive");
assert_eq!(rec.wait_minutes, Some(3));
assert_eq!(rec.stack[0].func, "main.worker");
assert_eq!(rec.stack[0].line, 20);
assert_eq!(rec.created_by.as_ref().unwrap().func, "main.main");
assert_eq!(rec.creator_id, Some(1));
```
*/

mod debug1;
mod debug2;
mod error;
mod infer;
mod lines;
mod pprof;
mod strings;
mod symbols;

pub use error::ParseError;
pub use infer::{classify, infer_status};
pub use symbols::Symbols;
use weft_model::{Snapshot, SourceForm};

/// Resource limits and knobs for parsing; build with `..Limits::default()`
/// so new fields do not break callers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest decompressed size accepted for gzipped profiles (512 MiB).
    pub max_decompressed: usize,
    /// Threads for large (≥ 4 MB) `debug=2` dumps: 0 (the default) picks the
    /// machine's parallelism (at most 4), 1 parses on the calling thread, N
    /// uses N. On an idle 2-core machine two threads parse a 100k-goroutine
    /// dump ≈30% faster (bench/profile-parse) for ≈10% more CPU; on a loaded
    /// one the split gains little, so callers sharing a busy machine may
    /// prefer 1.
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed: 512 << 20,
            threads: 0,
        }
    }
}

/// Parses any supported form, detected by content, with default [`Limits`].
pub fn parse(input: &[u8]) -> Result<Snapshot, ParseError> {
    parse_with(input, Limits::default())
}

/// Like [`parse`] with explicit limits.
pub fn parse_with(input: &[u8], limits: Limits) -> Result<Snapshot, ParseError> {
    match detect(input) {
        Some(form) => parse_as_with(form, input, limits),
        None => Err(ParseError::at_byte(
            0,
            "not a goroutine dump or profile: expected `goroutine N [status]:` (debug=2), \
             `goroutine profile: total N` (debug=1) or a gzipped pprof profile (debug=0)",
        )),
    }
}

/// Detects the form of `input` from its content; `None` if it is none of them.
///
/// For protobuf input this looks only at the framing (gzip magic or a
/// plausible first field); telling a goroutine profile from a leak profile
/// needs the string table, which [`parse`] reads.
pub fn detect(input: &[u8]) -> Option<SourceForm> {
    if input.starts_with(&[0x1f, 0x8b]) {
        return Some(SourceForm::Pprof);
    }
    let text = skip_bom_ws(input);
    if text.starts_with(b"goroutine profile: total ") {
        return Some(SourceForm::Debug1);
    }
    if text.starts_with(b"goroutineleak profile: total ") {
        return Some(SourceForm::LeakProfile);
    }
    if lines::find_header_start(input).is_some() {
        return Some(SourceForm::Debug2);
    }
    if pprof::looks_like_raw_profile(input) {
        return Some(SourceForm::Pprof);
    }
    None
}

/// Parses `input` as the given form, with default [`Limits`].
pub fn parse_as(form: SourceForm, input: &[u8]) -> Result<Snapshot, ParseError> {
    parse_as_with(form, input, Limits::default())
}

/// Like [`parse_as`] with explicit limits.
pub fn parse_as_with(
    form: SourceForm,
    input: &[u8],
    limits: Limits,
) -> Result<Snapshot, ParseError> {
    let (form, records) = match form {
        SourceForm::Debug2 => (SourceForm::Debug2, debug2::parse(input, limits.threads)?),
        SourceForm::Debug1 | SourceForm::LeakProfile => {
            let (leak, records) = debug1::parse(input, None)?;
            (
                if leak {
                    SourceForm::LeakProfile
                } else {
                    SourceForm::Debug1
                },
                records,
            )
        }
        SourceForm::Pprof if input.starts_with(&[0x1f, 0x8b]) => {
            // A gzipped text dump (e.g. a saved `debug=2` file) is parsed as the text it holds.
            let data = pprof::gunzip(input, limits.max_decompressed)?;
            if !data.starts_with(&[0x1f, 0x8b]) {
                if let Some(
                    form @ (SourceForm::Debug1 | SourceForm::Debug2 | SourceForm::LeakProfile),
                ) = detect(&data)
                {
                    return parse_as_with(form, &data, limits);
                }
            }
            let (leak, records) = pprof::parse(&data, limits)?;
            (
                if leak {
                    SourceForm::LeakProfile
                } else {
                    SourceForm::Pprof
                },
                records,
            )
        }
        SourceForm::Pprof => {
            let (leak, records) = pprof::parse(input, limits)?;
            (
                if leak {
                    SourceForm::LeakProfile
                } else {
                    SourceForm::Pprof
                },
                records,
            )
        }
        other => {
            return Err(ParseError::at_byte(
                0,
                format!("weft-profile cannot parse the {other:?} form"),
            ));
        }
    };
    Ok(Snapshot {
        source: String::new(),
        taken_at_ms: 0,
        form,
        records,
    })
}

/// Like [`parse`], but `debug=1` input gets the runtime frames its writer
/// hides restored from `symbols` (learned from a `debug=0` profile of the
/// same process), so its states are as precise as `debug=0`'s. Other forms
/// parse as with [`parse`].
pub fn parse_with_symbols(input: &[u8], symbols: &Symbols) -> Result<Snapshot, ParseError> {
    match detect(input) {
        Some(SourceForm::Debug1 | SourceForm::LeakProfile) if !input.starts_with(&[0x1f, 0x8b]) => {
            let (leak, records) = debug1::parse(input, Some(symbols))?;
            let form = if leak {
                SourceForm::LeakProfile
            } else {
                SourceForm::Debug1
            };
            Ok(Snapshot {
                source: String::new(),
                taken_at_ms: 0,
                form,
                records,
            })
        }
        _ => parse(input),
    }
}

fn skip_bom_ws(input: &[u8]) -> &[u8] {
    let s = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}
