from signalyard.cli import main

main()
