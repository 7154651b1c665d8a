"""``neuromodels stimuli <step>``: write the shared stimulus set and search displays."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..core.args import add_runtime_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stimuli",
        help="the procedural stimulus world: images, captions, displays",
        description="Images of objects with known latent attributes, their captions, and search displays.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)

    gen = steps.add_parser(
        "generate",
        help="write a stimulus set (PNGs + stimuli.csv) and a contact sheet",
        description="Sample scenes, render them, write images/{id:06d}.png and stimuli.csv "
        "(stimulus_id, filename, caption, attributes) and a contact-sheet figure.",
    )
    gen.add_argument("--out", type=Path, required=True, help="output folder of the stimulus set")
    gen.add_argument("--n", type=int, default=96, help="number of images (default 96)")
    gen.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    gen.add_argument(
        "--p-second",
        type=float,
        default=0.0,
        help="probability that a scene holds a second, smaller object (default 0)",
    )
    gen.add_argument("--sheet", type=Path, default=None, help="contact-sheet PNG (default: contact_sheet.png in --out)")
    add_runtime_arguments(gen, device=False)
    gen.set_defaults(func=_generate)

    disp = steps.add_parser(
        "displays",
        help="write search displays of world objects (PNG + JSON + index)",
        description="For each set size, --n displays of one target among distractors of "
        "other categories on a jittered grid; writes displays.csv last.",
    )
    disp.add_argument("--out", type=Path, required=True, help="output folder of the displays")
    disp.add_argument("--n", type=int, default=4, help="displays per set size (default 4)")
    disp.add_argument(
        "--set-sizes", type=int, nargs="+", default=[4, 8, 16], help="set sizes, target included (default 4 8 16)"
    )
    disp.add_argument(
        "--grid",
        type=int,
        nargs=2,
        default=None,
        metavar=("ROWS", "COLS"),
        help="grid of cells (default: the smallest square with 1.5x the largest set size)",
    )
    disp.add_argument("--cell-px", type=int, default=64, help="cell side in pixels (default 64)")
    disp.add_argument(
        "--jitter", type=float, default=0.5, help="share of the free cell margin items may shift by, 0..1 (default 0.5)"
    )
    add_runtime_arguments(disp, device=False)
    disp.set_defaults(func=_displays)


def _generate(args: argparse.Namespace) -> None:
    from ..core.errors import ConfigError
    from ..core.io import save_figure
    from ..core.runtime import get_logger
    from .io import read_stimulus_set, write_stimulus_set
    from .world import sample_scenes

    if args.n < 1:
        raise ConfigError("--n", f"must be at least 1, got {args.n}")
    if not 16 <= args.size <= 1024:  # the config schema's range for stimuli.image_size
        raise ConfigError("--size", f"must be between 16 and 1024 pixels, got {args.size}")
    table = sample_scenes(args.n, seed=args.seed, p_second=args.p_second)
    path = write_stimulus_set(args.out, table, size=args.size)
    stimuli = read_stimulus_set(args.out)  # read back: the sheet shows what is on disk
    sheet = args.sheet or Path(args.out) / "contact_sheet.png"
    save_figure(sheet, contact_sheet(stimuli.images(stimuli.stimulus_ids[:16]), stimuli.table["caption"].tolist()[:16]))
    get_logger(__name__).info(
        "wrote %d stimuli (%d px) to %s and a contact sheet to %s", len(table), args.size, path, sheet
    )


def _displays(args: argparse.Namespace) -> None:
    import numpy as np

    from ..core.errors import ConfigError
    from ..core.runtime import get_logger
    from .displays import world_display
    from .io import write_displays

    if args.n < 1:
        raise ConfigError("--n", f"must be at least 1, got {args.n}")
    side = math.ceil(math.sqrt(1.5 * max(args.set_sizes)))
    grid = tuple(args.grid) if args.grid else (side, side)
    # one independent seed per (set size, repetition), all derived from --seed
    seeds = {
        (s, k): int(np.random.SeedSequence([args.seed, s, k]).generate_state(1)[0])
        for s in args.set_sizes
        for k in range(args.n)
    }
    displays = [
        world_display(
            s, seed=seeds[s, k], grid=grid, cell_px=args.cell_px, jitter=args.jitter, condition=f"world_set{s}"
        )
        for s in args.set_sizes
        for k in range(args.n)
    ]
    path = write_displays(args.out, displays)
    get_logger(__name__).info("wrote %d displays (grid %dx%d) to %s", len(displays), *grid, path)


def contact_sheet(images, captions: list[str], columns: int = 4):
    """A matplotlib figure: the images on a grid, each titled with its caption (wrapped)."""
    import textwrap

    from matplotlib.figure import Figure

    rows = max(1, math.ceil(len(images) / columns))
    fig = Figure(figsize=(2.6 * columns, 2.9 * rows))
    for i in range(rows * columns):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], interpolation="nearest")
            ax.set_title("\n".join(textwrap.wrap(captions[i], 28)), fontsize=7)
    fig.tight_layout()
    return fig
