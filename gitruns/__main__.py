from gitruns.cli.main import main

main()
