"""A tiny sequence-diagram renderer producing inline SVG.

Mermaid would need a script from a CDN (or a 3 MB vendored bundle) on a page
that must work offline; the authentication flow has a handful of arrows, which
plain SVG draws crisply in both colour schemes (it uses ``currentColor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Message:
    """One arrow: ``src`` -> ``dst`` with a label; ``reply`` arrows are dashed."""

    src: int
    dst: int
    label: str
    reply: bool = False
    note: str = ""


def sequence_svg(participants: list[str], messages: list[Message], title: str) -> str:
    """An accessible SVG (``role=img`` with a title) of the given exchange."""
    col = 250
    left = 90
    top = 60
    step = 46
    width = left * 2 + col * (len(participants) - 1)
    height = top + step * (len(messages) + 1)
    out = [
        f'<svg class="seq-diagram" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" style="max-width:100%;height:auto" '
        'font-family="sans-serif" font-size="13">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="seq-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="currentColor"/></marker></defs>',
        '<g fill="none" stroke="currentColor">',
    ]
    xs = [left + i * col for i in range(len(participants))]
    for x in xs:
        out.append(
            f'<line x1="{x}" y1="{top - 10}" x2="{x}" y2="{height - 10}" '
            'stroke-dasharray="4 4" stroke-opacity="0.5"/>'
        )
    out.append("</g>")
    for x, name in zip(xs, participants, strict=True):
        out.append(
            f'<rect x="{x - 75}" y="8" width="150" height="34" rx="6" fill="none" '
            'stroke="currentColor"/>'
        )
        out.append(
            f'<text x="{x}" y="30" text-anchor="middle" fill="currentColor" '
            f'font-weight="bold">{escape(name)}</text>'
        )
    for i, msg in enumerate(messages):
        y = top + step * (i + 1) - 10
        x1, x2 = xs[msg.src], xs[msg.dst]
        dash = ' stroke-dasharray="6 4"' if msg.reply else ""
        out.append(
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="currentColor"{dash} '
            'marker-end="url(#seq-arrow)"/>'
        )
        mid = (x1 + x2) / 2
        out.append(
            f'<text x="{mid:g}" y="{y - 7}" text-anchor="middle" fill="currentColor">'
            f"{escape(msg.label)}</text>"
        )
        if msg.note:
            out.append(
                f'<text x="{mid:g}" y="{y + 15}" text-anchor="middle" fill="currentColor" '
                f'font-size="11" opacity="0.75">{escape(msg.note)}</text>'
            )
    out.append("</svg>")
    return "".join(out)
