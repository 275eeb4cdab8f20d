#!/bin/sh
# POST to the board as the user logged in with cookies.txt.
# Usage: sh post.sh PATH [curl options...]
# The board is on port 8000, or on the port in BOARD_PORT.
# Django's CSRF protection wants the csrftoken cookie's value back, here in
# the X-CSRFToken header.
token=$(awk '$6 == "csrftoken" {print $7}' cookies.txt)
path=$1
shift
exec curl -s -b cookies.txt -c cookies.txt -H "X-CSRFToken: $token" -X POST \
    "http://127.0.0.1:${BOARD_PORT:-8000}$path" "$@"
