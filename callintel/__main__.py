from callintel.cli import main

main()
