// STUB (to be replaced)
