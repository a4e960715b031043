"""What text that reaches the bank may hold: every payout file carries it as it was entered.

The bank's batch text file separates its fields by commas, has no quoting and is GBK; the
one-card spreadsheet is read back by people and programs. So the names money is paid to (a
head of household, a payout account's holder) and a payout run's project name (the memo of
each transfer) hold no comma, no line break or other control character, nothing GBK cannot
encode, and no space at either end. Text that does is refused where it is entered, with the
character named (households' and payout runs' schemas), instead of reaching the bank as a
name the registry does not hold; the file writers check again and refuse, never rewrite.
"""

import unicodedata

from marshmallow import ValidationError, validate

from marketplace.reasons import Message, reason

SEPARATOR = reason(
    "bank_text.separator",
    "holds a comma, which the bank's payment files use to separate fields",
)
CONTROL_CHARACTER = reason(
    "bank_text.control_character",
    "holds the control character {code_point}, which no payment file carries",
)
NOT_GBK = reason(
    "bank_text.not_gbk",
    "holds \u201c{character}\u201d ({code_point}), which the bank's GBK encoding cannot carry",
)
UNTRIMMED = reason(
    "bank_text.untrimmed", "begins or ends with a space, which the bank's files would drop"
)


def problem_with(text: str) -> Message | None:
    """Why ``text`` cannot reach the bank as it is (a reason), or None."""
    if text != text.strip():
        return UNTRIMMED()
    for character in text:
        code_point = f"U+{ord(character):04X}"
        if character in ",":
            return SEPARATOR()
        if unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp"):
            return CONTROL_CHARACTER(code_point=code_point)
        try:
            character.encode("gbk")
        except UnicodeEncodeError:
            return NOT_GBK(character=character, code_point=code_point)
    return None


class BankText(validate.Validator):
    """A marshmallow validator for text that reaches the bank's files."""

    def __call__(self, value: str) -> str:
        problem: Message | None = problem_with(value)
        if problem is not None:
            raise ValidationError(problem)
        return value
