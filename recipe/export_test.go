package recipe

import "context"

// RecoverAdd exposes to tests what Add does after losing the reply to its
// multi: find the item by its pending marker.
func (b *Bag) RecoverAdd(ctx context.Context, mark string) (int64, bool, error) {
	return b.recover(ctx, mark)
}
