// Package storetest is the conformance suite of [outreach.Store]: one
// function, [Exercise], runs every behaviour of the contract against fresh
// stores made by the caller. Each implementation's own test is a few lines:
//
//	func TestStore(t *testing.T) {
//		storetest.Exercise(context.Background(), t, func(t *testing.T) outreach.Store {
//			s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// A store written outside this module (a Postgres store, say) should run it
// too: the runner relies on everything it checks.
//
// A store that offers a limiter shared by processes (an
// [outreach.Limiter] kept in its database) runs [ExerciseLimiter] too; one that
// keeps named files (a [outreach.FileStore]) runs [ExerciseFiles].
package storetest
