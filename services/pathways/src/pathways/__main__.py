from pathways.app import main

main()
