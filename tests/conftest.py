import sys
from pathlib import Path

# the fixture builders in tests/ (course_fixtures.py) import as plain modules
sys.path.insert(0, str(Path(__file__).resolve().parent))
