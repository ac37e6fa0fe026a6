from multiprocessing import Pool
print(Pool(2).map(abs, [-1, -2]))
