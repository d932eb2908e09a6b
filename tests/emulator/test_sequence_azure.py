#!/usr/bin/env python3
"""The official folder-sync call sequence against a azure rig."""
from sequence import run_sequence

if __name__ == "__main__":
    run_sequence("azure")
