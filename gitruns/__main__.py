from gitruns.cli.entry import main

main()
