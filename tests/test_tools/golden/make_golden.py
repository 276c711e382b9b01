"""Write golden/<tool>_micro.{md,json}: the masked micro tables and results of the four
benchmark tools (tests/test_tools/golden_tables.py compares the tests' micro runs with them).

Run each tool first with the argv of its test's ``micro`` fixture (tests/test_tools/
test_<tool>.py), into CAPTURE_DIR/<tool>/, at the commit to keep as the reference, then:

    python tests/test_tools/golden/make_golden.py CAPTURE_DIR REPO_OF_THAT_RUN
"""
import json
import sys
from pathlib import Path

from tests.test_tools.golden_tables import GOLDEN, masked, section

cap, repo = Path(sys.argv[1]), Path(sys.argv[2])
TOOLS = {  # name -> (work dir (masked as <work>), table file, markers or None, results.json)
    'ssl_compare': ('ssl_compare', 'bench.md', 'ssl_compare:cpu', 'results.json'),
    'multispectral_compare': ('multispectral_compare', 'bench.md', 'multispectral_compare',
                              'results.json'),
    'downstream_compare': ('downstream_compare', 'benchmarks.md', 'downstream_compare',
                           'dc/results.json'),
    'multispectral_probe': ('multispectral_probe', 'probe.md', 'multispectral_probe',
                            'results.json'),
}
for name, (work, table, mark, res) in TOOLS.items():
    work = cap / work
    if not (work / res).is_file():
        print(f'{name}: no {work / res}, skipped')
        continue
    text = section((work / table).read_text(), f'<!-- {mark}:start -->', f'<!-- {mark}:end -->')
    t, j = masked(text, json.loads((work / res).read_text()), work, repo)
    (GOLDEN / f'{name}_micro.md').write_text(t)
    (GOLDEN / f'{name}_micro.json').write_text(json.dumps(j, indent=1, sort_keys=True) + '\n')
    print(f'{name}: written')
