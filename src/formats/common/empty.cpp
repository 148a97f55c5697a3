// Keeps the format libraries non-empty before any format exists.
namespace instar::formats {}
