#![no_main]
//! sms.db `message.attributedBody` blobs (typedstream) → the message text.

use chainline::sources::typedstream::attributed_string_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = attributed_string_text(data);
});
