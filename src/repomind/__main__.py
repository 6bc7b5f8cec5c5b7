from repomind.cli import main

main()
