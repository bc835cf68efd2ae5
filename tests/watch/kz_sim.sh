#!/usr/bin/env bash
echo "skip: not written yet"; exit 77
