#pragma once
// Unicode character properties the tokenizer pipeline tests (through ICU), named after the Rust
// predicates the Hugging Face reference uses.
namespace loaq::unicode {

// Unicode White_Space (Rust char::is_whitespace, regex \s).
bool is_white_space(char32_t c);
// Rust regex-crate \w: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
bool is_word_char(char32_t c);
// Rust char::is_numeric: general category Nd, Nl or No.
bool is_numeric(char32_t c);

}  // namespace loaq::unicode
