//! `flowfence parse` end to end, one test per input form and bad-input class.
