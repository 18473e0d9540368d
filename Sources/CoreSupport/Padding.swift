/// `value` in decimal with leading zeros to at least `width` characters, sign included, as `printf("%0*d")`:
/// `zeroPadded(7, 2)` is `07`, `zeroPadded(-1, 4)` is `-001`.
package func zeroPadded(_ value: some BinaryInteger, _ width: Int) -> String {
    let digits = String(value.magnitude)
    let sign = value < 0 ? "-" : ""
    return sign + String(repeating: "0", count: max(0, width - sign.count - digits.count)) + digits
}

/// A file mode's permission bits in octal with a leading zero, at least four digits: `0750`, `04755`.
package func octal(_ mode: some BinaryInteger) -> String {
    "0" + String(mode, radix: 8).leftPadded(3)
}

extension String {
    /// The string with `pad` in front, to at least `width` characters: `"7".leftPadded(2)` is `07`.
    package func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
