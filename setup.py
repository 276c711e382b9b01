"""cmid-mm: CMID self-supervised pretraining for OpenMMLab 2.x."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def parse_requirements(fname: str) -> list[str]:
    """Read a requirements file, following ``-r`` includes (mmpretrain style)."""
    reqs = []
    for line in (HERE / fname).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        if line.startswith('-r '):
            reqs += parse_requirements(str(Path(fname).parent / line[3:].strip()))
        else:
            reqs.append(line)
    return reqs


version = re.search(r"__version__ = '(.+)'", (HERE / 'cmid_mm/version.py').read_text()).group(1)

setup(
    name='cmid-mm',
    version=version,
    description='CMID (Muhtar et al., TGRS 2023) self-supervised pretraining '
    'for remote sensing, as an OpenMMLab 2.x plugin',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    python_requires='>=3.10',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'mim': parse_requirements('requirements/mminstall.txt'),
        'tests': parse_requirements('requirements/tests.txt'),
        'rotated': parse_requirements('requirements/optional.txt'),
    },
    license='Apache-2.0',
    zip_safe=False,
)
