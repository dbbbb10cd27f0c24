from visionguard.cli import main

main()
