from evidence.app import main

main()
