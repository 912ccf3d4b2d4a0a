from deletion_sdk.cli.app import main

main()
